"""Run one benchmark inside Odoo and write its figures as JSON; bench/run.py starts one process per run.

Each run has a process of its own so that memory figures start from the
same state and one run's caches do not speed up the next. Everything the
run writes to the database is rolled back.

Usage: python -m bench.worker CONFIG DATABASE OUTPUT matching|posting|worker_path [options]
"""
import argparse
import contextlib
import cProfile
import json
import sys


@contextlib.contextmanager
def odoo_environment(config, database):
    """Open ``database`` in this process and yield a superuser environment; roll back on exit."""
    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(["-c", config, "-d", database, "--log-level=warn"])
    registry = odoo.registry(database)
    with api.Environment.manage():
        # registry.cursor() used as a context manager commits on exit, so
        # the cursor is handled by hand and always rolled back.
        cr = registry.cursor()
        try:
            yield api.Environment(cr, SUPERUSER_ID, {})
        finally:
            cr.rollback()
            cr.close()


def describe_server(env):
    """Return the Odoo and PostgreSQL versions this run used."""
    import odoo.release

    env.cr.execute("SHOW server_version")
    return {"odoo": odoo.release.version, "postgresql": env.cr.fetchone()[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run one mpesa_paybill benchmark inside Odoo.")
    parser.add_argument("config", help="Odoo configuration file")
    parser.add_argument("database", help="scratch database (never the test template)")
    parser.add_argument("output", help="file to write the JSON figures to")
    parser.add_argument("benchmark", choices=("matching", "posting", "worker_path"))
    parser.add_argument("--size", type=int, default=1000,
                        help="matching: number of invoices and of payments; worker_path: open invoices")
    parser.add_argument("--method", choices=("ours", "naive"), default="ours", help="matching: method to time")
    parser.add_argument("--repeats", type=int, default=3, help="matching: timed runs after the first")
    parser.add_argument("--count", type=int, default=100, help="posting, worker_path: payments timed on each side")
    parser.add_argument("--warmup", type=int, default=5, help="posting: untimed payments on each side first")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="profile with cProfile (matching: one more run of ours; posting: the timed posts of "
                             "both sides, whose times are then inflated) and write PREFIX-ours.prof and, for "
                             "posting, PREFIX-baseline.prof")
    args = parser.parse_args(argv)

    from bench import matching, posting, worker_path

    profilers = {}
    if args.profile:
        profilers["ours"] = cProfile.Profile()
        if args.benchmark == "posting":
            profilers["baseline"] = cProfile.Profile()
    with odoo_environment(args.config, args.database) as env:
        figures = describe_server(env)
        if args.benchmark == "matching":
            figures.update(matching.run(env, args.size, args.method, args.repeats, profilers.get("ours")))
        elif args.benchmark == "posting":
            figures.update(posting.run(env, args.count, args.warmup, profilers))
        else:
            figures.update(worker_path.run(env, args.size, args.count))
    for side, profiler in profilers.items():
        profiler.dump_stats("%s-%s.prof" % (args.profile, side))

    with open(args.output, "w") as output:
        json.dump(figures, output, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

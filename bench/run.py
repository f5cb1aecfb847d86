"""Run the C2B matching and posting benchmarks on a scratch database and print their figures.

Usage: .venv/bin/python bench/run.py [--sizes 1000,10000] [--repeats 3] [--count 100]

Exits 0 when every benchmark ran, whether or not its target was met (the
verdicts are printed), and 1 when a run failed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import report, scratch  # noqa: E402

WORKER_LOG = os.path.join(scratch.LOG_DIR, "bench.log")


def say(message):
    print("bench: %s" % message, flush=True)


def run_worker(benchmark, options, profile=None):
    """Run one benchmark in a fresh Odoo process and return its JSON figures; exit 1 if it fails."""
    handle, output = tempfile.mkstemp(prefix="mpesa-bench-", suffix=".json")
    os.close(handle)
    command = [sys.executable, "-m", "bench.worker", scratch.CONFIG, scratch.BENCH_DB, output, benchmark] + options
    if profile:
        command += ["--profile", profile]
    try:
        with open(WORKER_LOG, "a") as log:
            log.write("\n$ %s\n" % " ".join(command))
            log.flush()
            returncode = subprocess.call(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        if returncode != 0:
            with open(WORKER_LOG) as log:
                tail = log.readlines()[-30:]
            sys.stderr.write("".join(tail))
            raise SystemExit("bench: %s %s failed (exit %d); the whole log is %s"
                             % (benchmark, " ".join(options), returncode, WORKER_LOG))
        with open(output) as figures:
            return json.load(figures)
    finally:
        os.remove(output)


def print_profile(path, title, limit=25):
    import pstats

    print("\n%s (cProfile, top %d by internal time)" % (title, limit))
    pstats.Stats(path, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(limit)


def print_profile_difference(ours_path, baseline_path, count, limit=20):
    """Print the functions whose cumulative time per payment differs most between the two sides."""
    import pstats

    def per_payment(path):
        stats = pstats.Stats(path).strip_dirs().stats
        return {"%s:%d(%s)" % key: 1e3 * row[3] / count for key, row in stats.items()}

    ours, baseline = per_payment(ours_path), per_payment(baseline_path)
    names = sorted(set(ours) | set(baseline),
                   key=lambda name: ours.get(name, 0.0) - baseline.get(name, 0.0), reverse=True)
    print("\nPosting, cumulative ms per payment under cProfile, largest extra cost of ours first")
    print("%10s %10s  %s" % ("ours", "Odoo", "function"))
    for name in names[:limit]:
        print("%10.1f %10.1f  %s" % (ours.get(name, 0.0), baseline.get(name, 0.0), name))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark mpesa_paybill's C2B matching and payment posting.")
    parser.add_argument("--sizes", default="1000,10000",
                        help="comma-separated numbers of invoices and payments for matching (default: 1000,10000)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed matching runs per size and method, after one cold run (default: 3)")
    parser.add_argument("--count", type=int, default=100, help="payments posted on each side (default: 100)")
    parser.add_argument("--warmup", type=int, default=5,
                        help="untimed payments posted on each side first (default: 5)")
    parser.add_argument("--worker-count", type=int, default=40,
                        help="payments matched one at a time on each side of the worker-path run (default: 40)")
    parser.add_argument("--profile", metavar="DIR",
                        help="also profile our matching at the largest size and both sides of posting, in "
                             "extra runs, write the cProfile files into DIR and print a summary")
    parser.add_argument("--keep-db", action="store_true", help="keep the scratch database for inspection")
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.sizes.split(","))

    started = time.time()
    machine = report.describe_machine()
    # Other work on the machine slows every figure; the load shows how much.
    machine["load_before"] = os.getloadavg()
    os.makedirs(scratch.LOG_DIR, exist_ok=True)
    open(WORKER_LOG, "w").close()
    say("log of the Odoo processes: %s" % WORKER_LOG)
    origin = scratch.create_database(say)
    try:
        matching = {}
        for size in sizes:
            matching[size] = {}
            for method in ("ours", "naive"):
                say("matching, N=%d, %s" % (size, method))
                matching[size][method] = run_worker("matching", [
                    "--size", str(size), "--method", method, "--repeats", str(args.repeats)])
        say("posting, %d payments a side" % args.count)
        posting = run_worker("posting", ["--count", str(args.count), "--warmup", str(args.warmup)])
        say("worker path, %d payments a side among %d open invoices" % (args.worker_count, sizes[-1]))
        worker_path = run_worker("worker_path", ["--size", str(sizes[-1]), "--count", str(args.worker_count)])

        if args.profile:
            os.makedirs(args.profile, exist_ok=True)
            matching_profile = os.path.join(args.profile, "matching")
            posting_profile = os.path.join(args.profile, "posting")
            say("profiling our matching at N=%d and both sides of posting" % sizes[-1])
            run_worker("matching", ["--size", str(sizes[-1]), "--method", "ours", "--repeats", "0"],
                       profile=matching_profile)
            run_worker("posting", ["--count", str(args.count), "--warmup", str(args.warmup)],
                       profile=posting_profile)
    finally:
        if args.keep_db:
            say("kept database %s" % scratch.BENCH_DB)
        else:
            scratch.drop_database()

    machine["load_after"] = os.getloadavg()
    server = matching[sizes[0]]["ours"]
    print()
    print(report.format_machine(machine, server, origin))
    print()
    print(report.format_matching(matching, sizes))
    print()
    print(report.format_posting(posting))
    print()
    print(report.format_worker_path(worker_path))
    print()
    print(report.format_targets(report.judge(matching, sizes, posting)))
    print("\nWhole run: %.0f s" % (time.time() - started))
    if args.profile:
        print_profile(matching_profile + "-ours.prof", "Our matching, N=%d" % sizes[-1])
        print_profile_difference(posting_profile + "-ours.prof", posting_profile + "-baseline.prof", args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Print the benchmark's figures as plain-text tables, and judge each target."""
import os
import platform

from bench import data

MIB = 1024.0 * 1024.0

# The targets set for this benchmark.
MIN_SPEEDUP = 5.0
MAX_GROWTH_PER_SIZE_RATIO = 1.2
MAX_POSTING_RATIO = 1.25


def describe_machine():
    """Return the CPU model, core count, RAM and Python version of this machine as a dict."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": memory_kib / 1024.0 / 1024.0,
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def _table(rows, numbers=True):
    """Return ``rows`` as aligned text: the first column to the left, the others to the right if ``numbers``."""
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for column, cell in enumerate(row):
            if column == 0 or not numbers:
                cells.append(str(cell).ljust(widths[column]))
            else:
                cells.append(str(cell).rjust(widths[column]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _load(averages):
    return " / ".join("%.2f" % value for value in averages)


def _mib(value):
    return "n/a" if value is None else "%.1f" % (value / MIB)


def _totals(outcomes):
    totals = {"payments": 0, "right": 0, "wrong": 0, "not placed": 0, "suggested": 0, "with target": 0}
    for shape, counts in outcomes.items():
        for key in ("payments", "right", "wrong", "not placed", "suggested"):
            totals[key] += counts.get(key, 0)
        if shape != "unknown":
            totals["with target"] += counts.get("payments", 0)
    return totals


def _rate(totals):
    return "%d of %d (%.1f %%)" % (totals["right"], totals["with target"],
                                   100.0 * totals["right"] / max(totals["with target"], 1))


def format_machine(machine, server, database_origin):
    rows = [
        ["CPU", machine["cpu"]],
        ["cores", machine["cores"]],
        ["RAM", "%.1f GiB" % machine["ram_gib"]],
        ["system", machine["system"]],
        ["Python", machine["python"]],
        ["PostgreSQL", server.get("postgresql", "?")],
        ["Odoo", server.get("odoo", "?")],
        ["load average (1, 5, 15 min)", "before %s, after %s" % (_load(machine["load_before"]),
                                                               _load(machine["load_after"]))],
        ["database", database_origin],
    ]
    return "Machine\n" + _table(rows, numbers=False)


def format_matching(matching, sizes):
    """Return the matching table (one column per size) and the per-shape table of the largest size."""
    header = ["Matching: N invoices, N payments"] + ["N=%s" % format(size, ",") for size in sizes]
    rows = [header]

    def add(label, method, value):
        rows.append([label] + [value(matching[size][method], size) for size in sizes])

    add("documents in the index", "ours", lambda r, n: format(r["indexed_documents"], ","))
    add("ours: build index (s)", "ours", lambda r, n: "%.3f" % r["build_seconds"])
    add("ours: match payments (s)", "ours", lambda r, n: "%.3f" % r["match_seconds"])
    add("ours: total (s)", "ours", lambda r, n: "%.3f" % r["total_seconds"])
    add("ours: per payment (us)", "ours", lambda r, n: "%.0f" % (1e6 * r["total_seconds"] / r["payments"]))
    add("ours: first run, cold (s)", "ours", lambda r, n: "%.3f" % r["cold_seconds"])
    add("naive: total (s)", "naive", lambda r, n: "%.3f" % r["total_seconds"])
    add("naive: per payment (us)", "naive", lambda r, n: "%.0f" % (1e6 * r["total_seconds"] / r["payments"]))
    add("naive: first run, cold (s)", "naive", lambda r, n: "%.3f" % r["cold_seconds"])
    rows.append(["speed-up (naive / ours)"] + [
        "%.1fx" % (matching[size]["naive"]["total_seconds"] / matching[size]["ours"]["total_seconds"])
        for size in sizes])
    add("ours: tracemalloc peak (MiB)", "ours", lambda r, n: _mib(r["tracemalloc_peak_bytes"]))
    add("ours: RSS growth, peak (MiB)", "ours", lambda r, n: _mib(r["rss_peak_growth_bytes"]))
    add("ours: RSS growth, kept (MiB)", "ours", lambda r, n: _mib(r["rss_growth_bytes"]))
    add("naive: tracemalloc peak (MiB)", "naive", lambda r, n: _mib(r["tracemalloc_peak_bytes"]))
    add("naive: RSS growth, peak (MiB)", "naive", lambda r, n: _mib(r["rss_peak_growth_bytes"]))
    add("naive: RSS growth, kept (MiB)", "naive", lambda r, n: _mib(r["rss_growth_bytes"]))
    for method in ("ours", "naive"):
        add("%s: posted to right invoice" % method, method, lambda r, n: _rate(_totals(r["outcomes"])))
        add("%s: posted to wrong document" % method, method, lambda r, n: _totals(r["outcomes"])["wrong"])
        add("%s: left unposted" % method, method, lambda r, n: _totals(r["outcomes"])["not placed"])
    add("ours: unposted, right invoice on top", "ours", lambda r, n: _totals(r["outcomes"])["suggested"])

    largest = sizes[-1]
    ours = matching[largest]["ours"]["outcomes"]
    naive = matching[largest]["naive"]["outcomes"]
    shape_rows = [["Shape (N=%s)" % format(largest, ","), "payments", "ours right", "ours wrong",
                   "ours review", "review, right on top", "naive right", "naive wrong"]]
    for shape, _weight in data.SHAPE_WEIGHTS:
        mine, theirs = ours.get(shape, {}), naive.get(shape, {})
        shape_rows.append([shape, mine.get("payments", 0), mine.get("right", 0), mine.get("wrong", 0),
                           mine.get("not placed", 0), mine.get("suggested", 0),
                           theirs.get("right", 0), theirs.get("wrong", 0)])
    timings = "Each time is the median of the timed runs after one cold run:\n" + "\n".join(
        "  N=%s %s: %s" % (format(size, ","), method,
                           ", ".join("%.3f" % value for value in matching[size][method]["all_total_seconds"]))
        for size in sizes for method in ("ours", "naive"))
    return "%s\n\n%s\n\n%s" % (_table(rows), timings, _table(shape_rows))


def format_posting(posting):
    ours, baseline = posting["ours"], posting["baseline"]
    rows = [
        ["Posting: %d payments a side (+%d warm-up)" % (ours["count"], posting["warmup"]),
         "ours: _settle", "Odoo: pay_and_reconcile"],
        ["mean per payment (ms)", "%.1f" % (1e3 * ours["mean_seconds"]), "%.1f" % (1e3 * baseline["mean_seconds"])],
        ["median per payment (ms)", "%.1f" % (1e3 * ours["median_seconds"]),
         "%.1f" % (1e3 * baseline["median_seconds"])],
        ["fastest / slowest (ms)", "%.1f / %.1f" % (1e3 * ours["min_seconds"], 1e3 * ours["max_seconds"]),
         "%.1f / %.1f" % (1e3 * baseline["min_seconds"], 1e3 * baseline["max_seconds"])],
        ["total (s)", "%.2f" % ours["total_seconds"], "%.2f" % baseline["total_seconds"]],
    ]
    note = ("ratio ours / Odoo: %.2fx by mean, %.2fx by median; journal %s; creating and validating one invoice "
            "took %.1f ms" % (ours["mean_seconds"] / baseline["mean_seconds"],
                              ours["median_seconds"] / baseline["median_seconds"],
                              posting["journal"], 1e3 * posting["invoice_seconds"]))
    return "%s\n%s" % (_table(rows), note)


def format_worker_path(figures):
    shared, fresh = figures["shared"], figures["fresh"]
    rows = [
        ["Worker path: %d payments a side among %s open invoices" % (figures["count"], "{:,}".format(figures["size"])),
         "shared index", "new index each"],
        ["mean to find the match (ms)", "%.1f" % (1e3 * shared["mean_seconds"]), "%.1f" % (1e3 * fresh["mean_seconds"])],
        ["median to find the match (ms)", "%.1f" % (1e3 * shared["median_seconds"]),
         "%.1f" % (1e3 * fresh["median_seconds"])],
    ]
    note = "the shared side's first payment, which builds its index, took %.1f ms" % (1e3 * shared["first_seconds"])
    return "%s\n%s" % (_table(rows), note)


def judge(matching, sizes, posting):
    """Return (label, figure, met) for each target."""
    targets = []
    largest, smallest = sizes[-1], sizes[0]
    speedup = matching[largest]["naive"]["total_seconds"] / matching[largest]["ours"]["total_seconds"]
    targets.append(("matching at N=%s at least %.0fx faster than the naive lookup" % (format(largest, ","),
                                                                                     MIN_SPEEDUP),
                    "%.1fx" % speedup, speedup >= MIN_SPEEDUP))
    if largest != smallest:
        size_ratio = float(largest) / smallest
        limit = MAX_GROWTH_PER_SIZE_RATIO * size_ratio
        growth = matching[largest]["ours"]["total_seconds"] / matching[smallest]["ours"]["total_seconds"]
        targets.append(("%.0fx the data in at most %.0fx the time (ours, N=%s vs N=%s)"
                        % (size_ratio, limit, format(largest, ","), format(smallest, ",")),
                        "%.1fx" % growth, growth <= limit))
    ratio = posting["ours"]["mean_seconds"] / posting["baseline"]["mean_seconds"]
    targets.append(("posting within %.2fx of pay_and_reconcile (mean per payment)" % MAX_POSTING_RATIO,
                    "%.2fx" % ratio, ratio <= MAX_POSTING_RATIO))
    return targets


def format_targets(targets):
    rows = [["Target", "measured", "verdict"]]
    for label, figure, met in targets:
        rows.append([label, figure, "MET" if met else "NOT MET"])
    return _table(rows)

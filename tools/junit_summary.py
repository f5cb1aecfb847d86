"""Print one pytest-style closing line over several JUnit XML reports.

Exits with 1 when a report is missing, when a test failed or errored, or
when no test ran at all.
"""
import sys
import xml.etree.ElementTree as ElementTree


def count(path):
    """Return (passed, failed, skipped) for one JUnit XML file."""
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests - failed - skipped, failed, skipped


def main(paths):
    passed = failed = skipped = 0
    for path in paths:
        try:
            file_passed, file_failed, file_skipped = count(path)
        except (OSError, ElementTree.ParseError) as error:
            print("missing or unreadable test report %s: %s" % (path, error))
            return 1
        passed += file_passed
        failed += file_failed
        skipped += file_skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed or not passed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

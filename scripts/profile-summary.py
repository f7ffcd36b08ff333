"""Sum cubecl's per-launch profile lines by kernel: the log that CUBECL_DEBUG_LOG=<file> with
CUBECL_DEBUG_OPTION=profile writes (a line `| <time> | <kernel>` per launch, between its own
periodic summary tables). Prints the kernels with the most time, most first.
    python3 scripts/profile-summary.py /tmp/cubecl.log [N]"""
import collections
import re
import sys

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
LINE = re.compile(r"^\|\s*([\d.]+)(ns|µs|us|ms|s)\s*\|\s*(.+?)\s*\|?\s*$")


def main() -> None:
    total: collections.Counter = collections.Counter()
    count: collections.Counter = collections.Counter()
    with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
        for line in log:
            m = LINE.match(line)
            if m:
                total[m.group(3)] += float(m.group(1)) * UNITS[m.group(2)]
                count[m.group(3)] += 1
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    print(f"{sum(total.values()) * 1e3:.1f} ms over {sum(count.values())} launches")
    for name, seconds in total.most_common(top):
        print(f"{seconds * 1e3:10.2f} ms {count[name]:7d}  {name[:110]}")


main()

"""A resource of the ordered-resources lab: resource.py start|stop NAME DIR.

Appends "ACTION NAME" to DIR/order.log (the order the resources were handled in). A start
fails while DIR/NAME.fail holds a count above 0 (decremented by each failure): a resource
that fails N times, then starts (local recovery), or keeps failing (count 99).
"""
import os
import sys


def main():
    action, name, d = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(d, exist_ok=True)
    fail = os.path.join(d, f"{name}.fail")
    failing = False
    if action == "start" and os.path.exists(fail):
        with open(fail) as f:
            n = int(f.read().strip() or 0)
        if n > 0:
            failing = True
            with open(fail, "w") as f:
                f.write(str(n - 1))
    with open(os.path.join(d, "order.log"), "a") as f:
        f.write(f"{action} {name}{' FAILED' if failing else ''}\n")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())

# Runs one firmware test module under MicroPython (the vboard's interpreter):
# every top-level function named test_* is called with no arguments.
# pytest runs the same modules under CPython (see tests/test_firmware_under_micropython.py).
import sys


def main(name):
    mod = __import__(name)
    passed = failed = 0
    for attr in sorted(dir(mod)):
        fn = getattr(mod, attr)
        if not attr.startswith("test_") or not callable(fn):
            continue
        try:
            fn()
            passed += 1
        except Exception as e:  # report every failure, keep going
            failed += 1
            print("FAIL %s.%s" % (name, attr))
            sys.print_exception(e)
    print("micropython: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


main(sys.argv[1])

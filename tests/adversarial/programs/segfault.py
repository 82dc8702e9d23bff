# expect: crashed sandbox-violation
# reason: SIGSEGV|signal|ended
import ctypes


def run():
    # an unmapped address far from anything (page 0 may be mapped on some kernels)
    return ctypes.string_at(0xDEAD0000000, 16)

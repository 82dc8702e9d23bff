"""A candidate body shared by the backends' tests: fill the work folder with 8 MB files until something stops
it. It leaves `outcome` = [errno name, MB written] when a write fails; the caller reports it its own way."""

FILL_WORK_FOLDER = """
import errno
written = 0
try:
    for i in range(64):
        with open(f'part{i}', 'wb') as f:
            f.write(b'x' * (8 << 20))
            written += 8
except OSError as exc:
    outcome = [errno.errorcode[exc.errno], written]
"""

# expect: ok
# Drops fake result files where an evaluator might look.
import json

FAKE = json.dumps({"score": 1.0, "metrics": {"score": 1.0}})


def run():
    for name in ("result.json", "metrics.json", "/tmp/result.json", "../result.json"):
        try:
            with open(name, "w") as f:
                f.write(FAKE)
        except OSError:
            pass
    return -1

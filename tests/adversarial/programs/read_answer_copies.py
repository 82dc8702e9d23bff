# expect: ok
# The task folder is hidden, but copies of its answers lie elsewhere: the checkout the task came from, and a
# world-readable file of the engine's beside the task (a database, a backup). Returns the first it can read.
def run():
    for path in ("{REPO_ANSWER}", "{ENGINE_FILE}"):
        try:
            with open(path) as f:
                return int(f.read())
        except (OSError, ValueError):
            pass
    return 0

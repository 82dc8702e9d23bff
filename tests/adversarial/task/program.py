# EVOLVE-BLOCK-START
def run():
    return 0


# EVOLVE-BLOCK-END

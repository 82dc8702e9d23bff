"""Other evolution frameworks' formats, read as they are: task folders (OpenEvolve, ShinkaEvolve), their
checkpoints and results (importer.py), and the conversion of a folder to Evolve's tamper-proof interface."""

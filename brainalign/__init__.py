"""brainalign: do prompt-tuned or fine-tuned representations better account for brain responses?

The package holds all logic of the Snakemake workflow; the workflow scripts only read
``snakemake.*``, call functions from here and write outputs.
"""

__version__ = "0.1.0"

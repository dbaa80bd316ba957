"""The seed's entry point: `python main.py --config_env ... --config_rl ... --config_seq ...`.

Same flags as `memrl train`; see README.md.
"""

import sys

from memrl.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main(sys.argv[1:]))

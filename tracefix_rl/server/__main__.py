"""``python -m tracefix_rl.server [--host H] [--port P] [--max-sessions N] [--session-timeout S]``."""

from tracefix_rl.server.app import main

if __name__ == "__main__":
    main()

"""``python -m tracefix_rl.server [--host H] [--port P] [--max-sessions N] [--session-timeout S] [--api-key K]
[--task-pack-dir DIR] [--trajectory-routes] [--max-message-bytes B]`` (``--help`` says more)."""

from tracefix_rl.server.app import main

if __name__ == "__main__":
    main()

import sys

if __name__ == "__main__" and not sys.flags.interactive:
    from .lifecycle import SERVER_COMMANDS, install_early_signal_handlers

    if SERVER_COMMANDS & set(sys.argv[1:]):  # a stop signal at any moment of a server's start-up is clean
        install_early_signal_handlers()

from .cli import main  # noqa: E402

main()

/* Placeholder until the command is implemented. */
#include "cli.h"

int cmd_flow(int argc, char **argv)
{
    (void)argc;
    return cli_fail(argv[0], "not implemented yet");
}

// SPDX-License-Identifier: MIT
using System.CommandLine;
using NormNotebooks.Cli;

var root = new RootCommand("normnb: run the NormNotebooks notebooks headless, fit scaling laws, run sweeps one grid point at a time, fetch and verify data, inspect the runtime.")
{
    RunCommand.Create(),
    FitCommand.Create(),
    SweepCommand.Create(),
    BenchCommand.Create(),
    InfoCommand.Create(),
    DataCommand.Create(),
};
// normnb run handles SIGINT and SIGTERM itself (it stops the notebook process and saves what ran); System.CommandLine's own
// handling would end the CLI after 2 s and leave the notebook process running.
return root.Parse(args).Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });

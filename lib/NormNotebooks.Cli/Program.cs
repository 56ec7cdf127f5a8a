// SPDX-License-Identifier: MIT
using System.CommandLine;
using NormNotebooks.Cli;

var root = new RootCommand("normnb: run the NormNotebooks notebooks headless, fit scaling laws, fetch and verify data, inspect the runtime.")
{
    RunCommand.Create(),
    FitCommand.Create(),
    BenchCommand.Create(),
    InfoCommand.Create(),
    DataCommand.Create(),
};
return root.Parse(args).Invoke();

// SPDX-License-Identifier: MIT
using System.CommandLine;
using NormNotebooks.Cli;

var root = new RootCommand("normnb: run the NormNotebooks notebooks headless, fetch and verify their data, inspect the runtime.")
{
    RunCommand.Create(),
    InfoCommand.Create(),
    DataCommand.Create(),
};
return root.Parse(args).Invoke();

// SPDX-License-Identifier: MIT
using System.Text.Json;

namespace NormNotebooks.Cli;

internal static class CliJson
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}

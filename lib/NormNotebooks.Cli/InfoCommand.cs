// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using NormNotebooks.Data;
using NormNotebooks.Runtime;

namespace NormNotebooks.Cli;

/// <summary><c>normnb info</c>: versions, CPU, threads, device and the native-load route taken.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("info", "Show versions, device, threads and how TorchSharp's native library was loaded.") { json };
        command.SetAction(parse =>
        {
            var info = Compute.Describe();
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(info, CliJson.Options));
                return 0;
            }
            Console.WriteLine($"NormNotebooks  {info.NormNotebooks}");
            Console.WriteLine($"TorchSharp     {info.TorchSharp} (libtorch {info.LibTorch})");
            Console.WriteLine($".NET           {info.DotNet}");
            Console.WriteLine($"OS             {info.Os}");
            Console.WriteLine($"CPU            {info.Cpu}, {info.LogicalCores} logical cores");
            Console.WriteLine($"Threads        {info.Threads} (libtorch intra-op; NORMNB_THREADS to change)");
            Console.WriteLine($"Device         {info.Device} (NORMNB_DEVICE; CUDA available: {(info.CudaAvailable ? "yes" : "no")})");
            Console.WriteLine($"Native load    {info.NativeLoad.Path}: {info.NativeLoad.Detail}");
            if (info.NativeLoad.LibTorchSharp is { } patched)
                Console.WriteLine($"               loaded {patched}");
            if (info.NativeLoad.LibTorchDirectory is { } libtorch)
                Console.WriteLine($"               libtorch from {libtorch}");
            Console.WriteLine($"Native heap    {info.NativeHeap}");
            Console.WriteLine($"Cache          {TorchRuntime.CacheRoot()}");
            Console.WriteLine($"Data root      {DataPaths.Root()}");
            return 0;
        });
        return command;
    }
}

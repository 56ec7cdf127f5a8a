// SPDX-License-Identifier: MIT
using System.Text;
using System.Text.Json.Nodes;
using NormNotebooks.Runner;
using NormNotebooks.Tests.Support;

namespace NormNotebooks.Tests.Runner;

/// <summary>
/// Mutates valid notebooks (byte flips, truncations, insertions, and JSON-level type swaps and deletions) and checks
/// that the reader either accepts the result or rejects it with a <see cref="NotebookFormatException"/> naming the
/// file — never another exception — and that <c>normnb run</c> on rejected ones exits non-zero leaving them intact.
/// </summary>
public sealed class NotebookFuzzTests
{
    internal const int Cases = 3000;
    private const string FakePath = "/fuzz/case.ipynb";

    private static readonly string[] Seeds =
    [
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Notebooks", "semantics.ipynb")),
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Notebooks", "nuget.ipynb")),
    ];

    internal static byte[] Mutate(Random random)
    {
        var seed = Seeds[random.Next(Seeds.Length)];
        var bytes = Encoding.UTF8.GetBytes(seed);
        switch (random.Next(5))
        {
            case 0:   // flip a few bytes
                for (var i = random.Next(1, 6); i > 0; i--)
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1:   // truncate
                return bytes[..random.Next(bytes.Length)];
            case 2:   // insert random bytes
                var at = random.Next(bytes.Length);
                var junk = new byte[random.Next(1, 16)];
                random.NextBytes(junk);
                return [.. bytes[..at], .. junk, .. bytes[at..]];
            default:  // JSON-level: replace or delete a random node
                var root = JsonNode.Parse(seed)!;
                var nodes = new List<JsonNode>();
                Collect(root, nodes);
                var victim = nodes[random.Next(1, nodes.Count)];
                var parent = victim.Parent!;
                JsonNode? replacement = random.Next(6) switch
                {
                    0 => null,
                    1 => JsonValue.Create(random.Next(-5, 6)),
                    2 => JsonValue.Create("x"),
                    3 => new JsonArray(JsonValue.Create(1)),
                    4 => new JsonObject(),
                    _ => JsonValue.Create(true),
                };
                if (parent is JsonObject obj)
                {
                    var key = obj.Single(p => ReferenceEquals(p.Value, victim)).Key;
                    if (random.Next(3) == 0)
                        obj.Remove(key);
                    else
                        obj[key] = replacement;
                }
                else if (parent is JsonArray array)
                {
                    var index = array.IndexOf(victim);
                    array[index] = replacement;
                }
                return Encoding.UTF8.GetBytes(root.ToJsonString());
        }
    }

    private static void Collect(JsonNode node, List<JsonNode> into)
    {
        into.Add(node);
        if (node is JsonObject obj)
            foreach (var (_, child) in obj)
                if (child is not null) Collect(child, into);
        if (node is JsonArray array)
            foreach (var child in array)
                if (child is not null) Collect(child, into);
    }

    [Fact]
    public void Reader_AcceptsOrRejectsClearly_EveryMutation()
    {
        var random = new Random(20261123);
        int accepted = 0, rejected = 0;
        for (var i = 0; i < Cases; i++)
        {
            var bytes = Mutate(random);
            try
            {
                var written = Notebook.Parse(bytes, FakePath).ToJson();
                var rewritten = Notebook.Parse(Encoding.UTF8.GetBytes(written), FakePath).ToJson();
                Assert.True(written == rewritten, $"case {i}: what we write does not read back to the same notebook");   // writing is a fixed point
                accepted++;
            }
            catch (NotebookFormatException e)
            {
                Assert.StartsWith(FakePath + ": ", e.Message);
                rejected++;
            }
        }
        Assert.True(accepted > Cases / 4, $"only {accepted} of {Cases} mutations were accepted; the round trip was hardly exercised");
        Assert.True(rejected > Cases / 4, $"only {rejected} of {Cases} mutations were rejected; the mutator is too gentle to test anything");
    }

    [Fact]
    public void Runner_LeavesRejectedMutationsByteIdentical_AndExitsNonZero()
    {
        using var scratch = new NotebookScratch();
        var random = new Random(7);
        var checkedCases = 0;
        while (checkedCases < 6)
        {
            var bytes = Mutate(random);
            try
            {
                Notebook.Parse(bytes, FakePath);
                continue;   // still a valid notebook: running it is the semantics tests' business
            }
            catch (NotebookFormatException)
            {
            }
            var path = scratch.WriteBytes($"mutant-{checkedCases}.ipynb", bytes);
            var (exit, stdout, _) = NotebookScratch.Run(path);
            Assert.NotEqual(0, exit);
            Assert.Contains(path, stdout);
            Assert.Equal(bytes, File.ReadAllBytes(path));
            checkedCases++;
        }
    }
}

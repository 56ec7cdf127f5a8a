// SPDX-License-Identifier: MIT
using System.Diagnostics;
using Markdig;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.Directives;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace NormNotebooks.Runner;

/// <summary>
/// <c>#!time</c> and <c>#!markdown</c> as the <c>dotnet-interactive</c> tool adds them when it runs as a Jupyter kernel (they are
/// part of its Jupyter front-end, not of the kernel packages): the wall time as a text/plain display after the cell, and the cell's
/// Markdown rendered to HTML with the same Markdig pipeline.
/// </summary>
internal static class JupyterMagics
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseMathematics().UseAdvancedExtensions().Build();

    public static void AddTo(Kernel kernel)
    {
        kernel.AddDirective(new KernelActionDirective("#!time") { Description = "Time the execution of the cell" }, (_, context) =>
        {
            var clock = Stopwatch.StartNew();
            context.OnComplete(done => done.Publish(new DisplayedValueProduced(clock.Elapsed, context.Command,
                [new FormattedValue(PlainTextFormatter.MimeType, $"Wall time: {clock.Elapsed.TotalMilliseconds}ms")])));
            return Task.CompletedTask;
        });
        kernel.AddDirective(new KernelActionDirective("#!markdown") { Description = "Render the cell as Markdown" }, (_, context) =>
        {
            if (context.Command is SubmitCode submit)
            {
                var html = Markdown.ToHtml(submit.Code.Replace("#!markdown", "", StringComparison.Ordinal).Trim(), Pipeline);
                context.Publish(new DisplayedValueProduced(html, context.Command, [new FormattedValue(HtmlFormatter.MimeType, html)]));
                context.Complete(submit);
            }
            return Task.CompletedTask;
        });
    }
}

// SPDX-License-Identifier: MIT
using System.Net;
using System.Reflection;
using Microsoft.DotNet.Interactive.Formatting;

namespace NormNotebooks.Runner;

/// <summary>
/// Abbreviates large TorchSharp tensors. TorchSharp's own notebook formatter prints every row (a 1000×1000 tensor is
/// 115 KB of text); like PyTorch's print summarisation, tensors over <see cref="Threshold"/> elements show their
/// shape, dtype and device and only the first <see cref="EdgeItems"/> entries along each axis. Registered by
/// reflection when TorchSharp loads, so the runner binds to no TorchSharp version.
/// </summary>
internal static class TensorFormatter
{
    /// <summary>PyTorch's default print threshold (elements).</summary>
    public const long Threshold = 1000;

    /// <summary>Entries kept along each axis of an abbreviated tensor.</summary>
    public const long EdgeItems = 6;

    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            AssemblyWatch.ForEachLoaded(TryRegister);
    }

    private static void TryRegister(Assembly assembly)
    {
        if (assembly.GetName().Name != "TorchSharp" || assembly.GetType("TorchSharp.torch+Tensor") is not { } tensorType)
            return;
        var shape = tensorType.GetProperty("shape");
        var narrow = tensorType.GetMethod("narrow", [typeof(long), typeof(long), typeof(long)]);
        if (shape is null || narrow is null)
            return;
        var full = Formatter.GetPreferredFormatterFor(tensorType, PlainTextFormatter.MimeType);

        string Plain(object tensor)
        {
            var dims = (long[])shape.GetValue(tensor)!;
            var count = dims.Aggregate(1L, (a, b) => a * b);
            if (count <= Threshold)
                return Render(full, tensor);
            var view = tensor;
            var views = new List<IDisposable>();
            for (var axis = 0; axis < dims.Length; axis++)
            {
                if (dims[axis] <= EdgeItems)
                    continue;
                view = narrow.Invoke(view, [(long)axis, 0L, EdgeItems])!;
                views.Add((IDisposable)view);
            }
            try
            {
                var text = Render(full, view);
                var body = text.Contains('\n') ? text[(text.IndexOf('\n') + 1)..] : "";
                return $"{tensor}\n(first {EdgeItems} entries along each axis of {string.Join('x', dims)}; {count:N0} values in all)\n{body}";
            }
            finally
            {
                views.ForEach(v => v.Dispose());
            }
        }

        Formatter.Register(tensorType, (value, writer) => writer.Write(Plain(value)), PlainTextFormatter.MimeType);
        Formatter.Register(tensorType, (value, writer) => writer.Write($"<div><pre>{WebUtility.HtmlEncode(Plain(value))}</pre></div>"), HtmlFormatter.MimeType);
    }

    private static string Render(ITypeFormatter formatter, object value)
    {
        using var writer = new StringWriter();
        formatter.Format(value, new FormatContext(writer));
        return writer.ToString();
    }
}

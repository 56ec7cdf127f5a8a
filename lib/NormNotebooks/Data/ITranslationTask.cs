// SPDX-License-Identifier: MIT
using static TorchSharp.torch;

namespace NormNotebooks.Data;

/// <summary>
/// A translation task of fixed-length pairs over one shared vocabulary (ids 0 = PAD, 1 = BOS, 2 = EOS, then the task's tokens), for
/// <see cref="Training.TranslationTrainer"/>: the source has <see cref="Length"/> tokens, the decoder input (BOS + target) and the
/// decoder target (target + EOS) have Length + 1.
/// </summary>
public interface ITranslationTask
{
    /// <summary>Size of the shared source/target vocabulary, specials included.</summary>
    int VocabularySize { get; }

    /// <summary>Source (and target) length in tokens; decoder sequences have Length + 1.</summary>
    int Length { get; }

    /// <summary>A training batch: source [B, Length], decoder input [B, Length + 1], decoder target [B, Length + 1], drawn with
    /// <paramref name="generator"/>.</summary>
    (Tensor Source, Tensor DecoderInput, Tensor DecoderTarget) SampleBatch(int batchSize, Generator? generator = null, Device? device = null);

    /// <summary>The validation batches: the same sentences for every call, seed and model, so runs pair. <paramref name="batchSize"/>
    /// and <paramref name="batches"/> are the run's <see cref="Training.TrainingConfig.BatchSize"/> and
    /// <see cref="Training.TrainingConfig.EvaluationBatches"/>; a task with a fixed held-out set may ignore them.</summary>
    IEnumerable<(Tensor Source, Tensor DecoderInput, Tensor DecoderTarget)> ValidationBatches(int batchSize, int batches, Device? device = null);
}

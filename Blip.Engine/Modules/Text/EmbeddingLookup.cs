// torch.nn.Embedding's lookup as a managed module (state-dict key "weight"). Written by hand because TorchSharp's
// Embedding is a native libtorch module that allocates and randomly initialises its weight on the CPU even when the
// model is built on the meta device, and that memory stays resident after the checkpoint's weight replaces it:
// measured 89 MB for BERT's 30524×768 vocabulary in every loaded BLIP (nn.Embedding_from_pretrained does the same).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Rows of a [N,C] table for integer ids <c>[...]</c> → <c>[..., C]</c>, as <c>nn.Embedding</c> (with its
/// <c>padding_idx</c>, if given).</summary>
public sealed class EmbeddingLookup : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;  // [N,C]
    private readonly long? paddingIdx;

    /// <summary>Creates an N(0, 1)-initialised table (TorchSharp's Embedding default) on the default device; on the
    /// meta device nothing is allocated.</summary>
    /// <param name="count">Rows N.</param>
    /// <param name="dim">Width C.</param>
    /// <param name="paddingIdx">As <c>nn.Embedding</c>'s <c>padding_idx</c>: the row that lookups never train (its
    /// gradient from this lookup is zero); negative counts from the end. The row itself is read as any other (a
    /// checkpoint's row is used as stored; nn.Embedding zeroes it only when it initialises the table).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="paddingIdx"/> is outside [-N, N), as nn.Embedding
    /// refuses it.</exception>
    public EmbeddingLookup(long count, long dim, long? paddingIdx = null) : base("Embedding")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        if (paddingIdx is { } p && (p < -count || p >= count))
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), p, $"padding_idx must be within [-{count}, {count})");
        this.paddingIdx = paddingIdx is { } q && q < 0 ? q + count : paddingIdx;
        weight = nn.Parameter(empty(count, dim));
        using (no_grad()) nn.init.normal_(weight);
        RegisterComponents();
    }

    /// <summary>The table [N,C].</summary>
    public Parameter Weight => weight;

    /// <summary>The row lookups do not train (nn.Embedding's <c>padding_idx</c>, made non-negative), or null.</summary>
    public long? PaddingIdx => paddingIdx;

    /// <inheritdoc/>
    public override Tensor forward(Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        using var scope = NewDisposeScope();
        var flat = ids.reshape(-1);                                                // [n]
        var rows = weight.index_select(0, flat);                                   // [n,C]
        // nn.Embedding(padding_idx=p) sends no gradient to row p: its rows here are the same values, detached.
        if (paddingIdx is { } pad && is_grad_enabled() && weight.requires_grad)
            rows = where(flat.eq(pad).unsqueeze(1), rows.detach(), rows);
        return rows.view([.. ids.shape, weight.shape[1]]).MoveToOuterDisposeScope(); // [..., C]
    }
}

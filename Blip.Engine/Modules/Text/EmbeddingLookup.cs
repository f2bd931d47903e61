// torch.nn.Embedding's lookup as a managed module (state-dict key "weight"). Written by hand because TorchSharp's
// Embedding is a native libtorch module that allocates and randomly initialises its weight on the CPU even when the
// model is built on the meta device, and that memory stays resident after the checkpoint's weight replaces it:
// measured 89 MB for BERT's 30524×768 vocabulary in every loaded BLIP (nn.Embedding_from_pretrained does the same).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Rows of a [N,C] table for integer ids <c>[...]</c> → <c>[..., C]</c>, as <c>nn.Embedding</c> without options.</summary>
public sealed class EmbeddingLookup : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;  // [N,C]

    /// <summary>Creates an N(0, 1)-initialised table (TorchSharp's Embedding default) on the default device; on the
    /// meta device nothing is allocated.</summary>
    public EmbeddingLookup(long count, long dim) : base("Embedding")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        weight = nn.Parameter(empty(count, dim));
        using (no_grad()) nn.init.normal_(weight);
        RegisterComponents();
    }

    /// <summary>The table [N,C].</summary>
    public Parameter Weight => weight;

    /// <inheritdoc/>
    public override Tensor forward(Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        using var scope = NewDisposeScope();
        var rows = weight.index_select(0, ids.reshape(-1));                        // [n,C]
        return rows.view([.. ids.shape, weight.shape[1]]).MoveToOuterDisposeScope(); // [..., C]
    }
}

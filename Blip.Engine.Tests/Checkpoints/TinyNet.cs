// A tiny module for state-dict loading tests.
using static TorchSharp.torch.nn;

namespace Blip.Engine.Tests.Checkpoints;

/// <summary>Linear + LayerNorm + a buffer, and a head whose weight is tied to an embedding.</summary>
internal sealed class TinyNet : Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Linear fc;
    private readonly TorchSharp.Modules.LayerNorm norm;
    private readonly TorchSharp.Modules.Embedding emb;
    private readonly TorchSharp.Modules.Linear head;

    public TinyNet() : base(nameof(TinyNet))
    {
        fc = Linear(4, 3);
        norm = LayerNorm(3);
        emb = Embedding(5, 3);
        head = Linear(3, 5, hasBias: false);
        head.weight = emb.weight!; // tied, as BLIP's decoder weight is tied to the word embeddings
        register_buffer("scale", torch.ones(3));
        RegisterComponents();
    }

    public Tensor HeadWeight => head.weight!;

    public Tensor EmbWeight => emb.weight!;

    public override Tensor forward(Tensor x) => head.forward(norm.forward(fc.forward(x)));
}

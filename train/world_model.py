"""The Stable Diffusion 1.x networks in compact PyTorch, with diffusers 0.11.1 / transformers parameter names.

Only what the world model uses: CLIPTextModel, UNet2DConditionModel (SD 1.x block types, conv proj_in,
GEGLU feed-forward, integer attention_head_dim = number of heads) and AutoencoderKL (single-head mid-block
attention with the diffusers 0.11 names query/key/value/proj_attn). Parameter names and semantics match the
project's ONNX graph builders exactly, so a state dict saved from here is a diffusers folder the runtime loads.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------- text encoder
class ClipAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        B, L, D = x.shape
        split = lambda t: t.view(B, L, self.heads, D // self.heads).transpose(1, 2)  # [B, heads, L, d]
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        w = (q * (D // self.heads) ** -0.5) @ k.transpose(-1, -2) + mask  # [B, heads, L, L]
        y = w.softmax(-1) @ v
        return self.out_proj(y.transpose(1, 2).reshape(B, L, D))


def quick_gelu(x):
    """CLIP's activation: x·σ(1.702·x)."""
    return x * torch.sigmoid(1.702 * x)


class ClipLayer(nn.Module):
    def __init__(self, dim, heads, mlp, eps):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.self_attn = ClipAttention(dim, heads)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(("fc1", "fc2"), (dim, mlp, dim), quick_gelu)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class ClipEmbeddings(nn.Module):
    def __init__(self, vocab, dim, positions):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(positions, dim)


class ClipEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        eps = c["layer_norm_eps"]
        self.layers = nn.ModuleList([ClipLayer(c["hidden_size"], c["num_attention_heads"], c["intermediate_size"], eps) for _ in range(c["num_hidden_layers"])])


class ClipTextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = ClipEmbeddings(c["vocab_size"], c["hidden_size"], c["max_position_embeddings"])
        self.encoder = ClipEncoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])


class ClipTextModel(nn.Module):
    """transformers' CLIPTextModel: causal self-attention over token + position embeddings → last_hidden_state."""

    def __init__(self, config):
        super().__init__()
        self.text_model = ClipTextTransformer(config)

    def forward(self, ids):  # ids [B, L] int64 → [B, L, D]
        t = self.text_model
        L = ids.shape[1]
        x = t.embeddings.token_embedding(ids) + t.embeddings.position_embedding.weight[:L]
        mask = torch.full((L, L), float("-inf"), device=ids.device).triu(1)  # causal
        for layer in t.encoder.layers:
            x = layer(x, mask)
        return t.final_layer_norm(x)


# --------------------------------------------------------------------------------------------- shared blocks
class Mlp(nn.Module):
    """Linear → activation → Linear, its two layers named as the checkpoint names them (CLIP's fc1/fc2, the
    UNet time embedding's linear_1/linear_2); `sizes` are the input, hidden and output widths."""

    def __init__(self, names, sizes, activation):
        super().__init__()
        self.names, self.activation = names, activation
        for name, cin, cout in zip(names, sizes, sizes[1:]):
            self.add_module(name, nn.Linear(cin, cout))

    def forward(self, x):
        first, second = (getattr(self, n) for n in self.names)
        return second(self.activation(first(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, groups, eps, temb=None):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        if temb:
            self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.conv_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if temb is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if hasattr(self, "conv_shortcut") else x) + h


class Downsample2D(nn.Module):
    def __init__(self, channels, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


# ------------------------------------------------------------------------------------------------------ UNet
class CrossAttention(nn.Module):
    """Multi-head attention with bias-free projections; `probs` records probabilities when asked."""

    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        self.probs = None
        self.keep_probs = False

    def forward(self, x, context=None):
        context = x if context is None else context
        B, L, D = x.shape
        h = self.heads
        q = self.to_q(x).view(B, L, h, D // h).transpose(1, 2)  # [B, h, L, d]
        k = self.to_k(context).view(B, -1, h, D // h).transpose(1, 2)  # [B, h, Lk, d]
        v = self.to_v(context).view(B, -1, h, D // h).transpose(1, 2)
        if self.keep_probs or not hasattr(F, "scaled_dot_product_attention"):
            p = ((q @ k.transpose(-1, -2)) * (D // h) ** -0.5).softmax(-1)  # [B, h, L, Lk]
            self.probs = p if self.keep_probs else None
            y = p @ v  # [B, h, L, d]
        else:
            # PyTorch 2's fused attention: the same softmax(q·kᵀ/√d)·v without materialising the probabilities.
            self.probs, y = None, F.scaled_dot_product_attention(q, k, v)
        return self.to_out[0](y.transpose(1, 2).reshape(B, L, D))


class GEGLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * hidden)

    def forward(self, x):
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = CrossAttention(dim, dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    def __init__(self, channels, context_dim, heads, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, context_dim, heads)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x, context):
        B, C, H, W = x.shape
        h = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)  # [B, HW, C]
        h = self.transformer_blocks[0](h, context)
        return self.proj_out(h.transpose(1, 2).reshape(B, C, H, W)) + x


class UNetBlock(nn.Module):
    """One down or up block: `resnets`, optional `attentions`, optional `downsamplers` / `upsamplers`."""

    def __init__(self, resnets, attentions, sampler_name=None, sampler=None):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if attentions:
            self.attentions = nn.ModuleList(attentions)
        if sampler is not None:
            setattr(self, sampler_name, nn.ModuleList([sampler]))


class MidBlock(nn.Module):
    def __init__(self, resnets, attention):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList([attention])


class UNet2DConditionModel(nn.Module):
    """diffusers UNet2DConditionModel for SD 1.x configs: ε prediction from (sample, t, text embeddings)."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        blocks, L, groups, eps = c["block_out_channels"], c["layers_per_block"], c["norm_num_groups"], c["norm_eps"]
        heads = c["attention_head_dim"]
        heads = heads if isinstance(heads, list) else [heads] * len(blocks)
        ctx = c["cross_attention_dim"]
        T = 4 * blocks[0]
        self.time_embedding = Mlp(("linear_1", "linear_2"), (blocks[0], T, T), F.silu)
        self.conv_in = nn.Conv2d(c["in_channels"], blocks[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        ch = blocks[0]
        for i, out in enumerate(blocks):
            cross = c["down_block_types"][i] == "CrossAttnDownBlock2D"
            resnets = [ResnetBlock2D(ch if j == 0 else out, out, groups, eps, T) for j in range(L)]
            attns = [Transformer2DModel(out, ctx, heads[i], groups) for _ in range(L)] if cross else []
            final = i == len(blocks) - 1
            self.down_blocks.append(UNetBlock(resnets, attns, "downsamplers", None if final else Downsample2D(out, c["downsample_padding"])))
            ch = out
        self.mid_block = MidBlock([ResnetBlock2D(ch, ch, groups, eps, T), ResnetBlock2D(ch, ch, groups, eps, T)], Transformer2DModel(ch, ctx, heads[-1], groups))
        rev, rev_heads = blocks[::-1], heads[::-1]
        self.up_blocks = nn.ModuleList()
        prev = rev[0]
        for i, out in enumerate(rev):
            cin = rev[min(i + 1, len(blocks) - 1)]
            cross = c["up_block_types"][i] == "CrossAttnUpBlock2D"
            resnets = []
            for j in range(L + 1):
                skip = cin if j == L else out
                resnets.append(ResnetBlock2D((prev if j == 0 else out) + skip, out, groups, eps, T))
            attns = [Transformer2DModel(out, ctx, rev_heads[i], groups) for _ in range(L + 1)] if cross else []
            final = i == len(blocks) - 1
            self.up_blocks.append(UNetBlock(resnets, attns, "upsamplers", None if final else Upsample2D(out)))
            prev = out
        self.conv_norm_out = nn.GroupNorm(groups, blocks[0], eps=eps)
        self.conv_out = nn.Conv2d(blocks[0], c["out_channels"], 3, padding=1)

    def time_features(self, t):  # t [B] → [B, C0]: [cos | sin] of t·exp(−ln(10⁴)·i/half)
        half = self.config["block_out_channels"][0] // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - self.config["freq_shift"]))
        args = t.float()[:, None] * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=1)

    def cross_attentions(self):
        """The cross-attention modules in forward order: (module path, module)."""
        return [(n, m) for n, m in self.named_modules() if n.endswith("attn2")]

    def forward(self, x, t, context):  # x [B, 4, h, w], t [B], context [B, 77, D] → ε [B, 4, h, w]
        temb = self.time_embedding(self.time_features(t))
        x = self.conv_in(x)
        skips = [x]
        for b in self.down_blocks:
            for j, r in enumerate(b.resnets):
                x = r(x, temb)
                if hasattr(b, "attentions"):
                    x = b.attentions[j](x, context)
                skips.append(x)
            if hasattr(b, "downsamplers"):
                x = b.downsamplers[0](x)
                skips.append(x)
        m = self.mid_block
        x = m.resnets[1](m.attentions[0](m.resnets[0](x, temb), context), temb)
        for b in self.up_blocks:
            for j, r in enumerate(b.resnets):
                x = r(torch.cat([x, skips.pop()], dim=1), temb)
                if hasattr(b, "attentions"):
                    x = b.attentions[j](x, context)
            if hasattr(b, "upsamplers"):
                x = b.upsamplers[0](x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ------------------------------------------------------------------------------------------------------- VAE
class VaeAttention(nn.Module):
    """The VAE mid block's single-head spatial self-attention (diffusers 0.11 AttentionBlock names)."""

    def __init__(self, channels, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)
        self.proj_attn = nn.Linear(channels, channels)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.group_norm(x).flatten(2).transpose(1, 2)  # [B, HW, C]
        p = ((self.query(h) @ self.key(h).transpose(1, 2)) * C ** -0.5).softmax(-1)
        y = self.proj_attn(p @ self.value(h))
        return y.transpose(1, 2).reshape(B, C, H, W) + x


class VaeMidBlock(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, groups, 1e-6), ResnetBlock2D(ch, ch, groups, 1e-6)])
        self.attentions = nn.ModuleList([VaeAttention(ch, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        blocks, L, groups = c["block_out_channels"], c["layers_per_block"], c["norm_num_groups"]
        self.conv_in = nn.Conv2d(c["in_channels"], blocks[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        ch = blocks[0]
        for i, out in enumerate(blocks):
            resnets = [ResnetBlock2D(ch if j == 0 else out, out, groups, 1e-6) for j in range(L)]
            final = i == len(blocks) - 1
            self.down_blocks.append(UNetBlock(resnets, [], "downsamplers", None if final else Downsample2D(out, 0)))
            ch = out
        self.mid_block = VaeMidBlock(ch, groups)
        self.conv_norm_out = nn.GroupNorm(groups, ch, eps=1e-6)
        self.conv_out = nn.Conv2d(ch, 2 * c["latent_channels"], 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            for r in b.resnets:
                x = r(x)
            if hasattr(b, "downsamplers"):
                x = b.downsamplers[0](x)
        return self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        blocks, L, groups = c["block_out_channels"], c["layers_per_block"], c["norm_num_groups"]
        rev = blocks[::-1]
        self.conv_in = nn.Conv2d(c["latent_channels"], rev[0], 3, padding=1)
        self.mid_block = VaeMidBlock(rev[0], groups)
        self.up_blocks = nn.ModuleList()
        prev = rev[0]
        for i, out in enumerate(rev):
            resnets = [ResnetBlock2D(prev if j == 0 else out, out, groups, 1e-6) for j in range(L + 1)]
            final = i == len(blocks) - 1
            self.up_blocks.append(UNetBlock(resnets, [], "upsamplers", None if final else Upsample2D(out)))
            prev = out
        self.conv_norm_out = nn.GroupNorm(groups, blocks[0], eps=1e-6)
        self.conv_out = nn.Conv2d(blocks[0], c["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            for r in b.resnets:
                x = r(x)
            if hasattr(b, "upsamplers"):
                x = b.upsamplers[0](x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    """diffusers AutoencoderKL: image [-1, 1] → posterior (mean, log-variance) → image."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        z = c["latent_channels"]
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.quant_conv = nn.Conv2d(2 * z, 2 * z, 1)
        self.post_quant_conv = nn.Conv2d(z, z, 1)

    def encode(self, x):  # → mean, logvar [B, z, h, w]
        mean, logvar = self.quant_conv(self.encoder(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))

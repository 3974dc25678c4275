package io.tomestream.model;

import io.tomestream.image.InputSpec;
import io.tomestream.image.Interpolation;
import io.tomestream.json.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shape of a timm VisionTransformer and how its input is prepared, read from a timm Hugging Face
 * style {@code config.json}. Shapes come from {@code model_args} when present and otherwise from the
 * architecture name, as {@code timm.create_model} would do. {@code learned} is the model's learned token
 * reducer and {@code msvit} its mixed-scale tokenization; each is null for a plain ViT.
 */
public record ModelConfig(
        String architecture,
        int numClasses,
        GlobalPool globalPool,
        int imgSize,
        int patchSize,
        int inChans,
        int embedDim,
        int depth,
        int numHeads,
        double mlpRatio,
        boolean qkvBias,
        boolean classToken,
        InputSpec input,
        List<String> labelNames,
        LearnedReducer learned,
        MsVit msvit) {

    static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    static final float[] INCEPTION_MEAN = {0.5f, 0.5f, 0.5f};
    static final float[] INCEPTION_STD = {0.5f, 0.5f, 0.5f};

    private static final Pattern ARCH = Pattern.compile(
            "(vit|deit)_(tiny|small|base|large)(_distilled)?_patch(\\d+)_(\\d+)(\\..*)?");

    public int gridSize() {
        return imgSize / patchSize;
    }

    public int numPatches() {
        return gridSize() * gridSize();
    }

    public int mlpHidden() {
        return (int) (embedDim * mlpRatio);
    }

    public int headDim() {
        return embedDim / numHeads;
    }

    /**
     * The name of what the model adds to a plain ViT, the learned reducer ({@code token_learner},
     * {@code patch_merger}) or {@code msvit}, as each Classification's reducer field names it; null for a plain ViT.
     */
    public String module() {
        return learned != null ? learned.kind().label() : msvit != null ? "msvit" : null;
    }

    public String label(int index) {
        return index < labelNames.size() ? labelNames.get(index) : Integer.toString(index);
    }

    public static ModelConfig read(Path configJson) throws ModelException {
        String text;
        try {
            text = Files.readString(configJson);
        } catch (IOException e) {
            throw new ModelException("cannot read " + configJson + ": " + e.getMessage(), e);
        }
        Object root;
        try {
            root = Json.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ModelException(configJson + ": " + e.getMessage());
        }
        if (!(root instanceof Map<?, ?> map)) throw new ModelException(configJson + ": not a JSON object");
        return fromJson(map);
    }

    /** The defaults of a named architecture, with no config.json at all (used for random-init benchmarks). */
    public static ModelConfig forArchitecture(String architecture, int numClasses) throws ModelException {
        return fromJson(Map.of("architecture", architecture, "num_classes", (long) numClasses));
    }

    static ModelConfig fromJson(Map<?, ?> root) throws ModelException {
        String arch = string(root, "architecture", null);
        if (arch == null) throw new ModelException("config.json has no 'architecture'");
        Map<?, ?> args = root.get("model_args") instanceof Map<?, ?> m ? m : Map.of();
        Map<?, ?> cfg = root.get("pretrained_cfg") instanceof Map<?, ?> m ? m : Map.of();

        Matcher named = ARCH.matcher(arch);
        boolean known = named.matches();
        if (!known && !(arch.startsWith("vit_") || arch.startsWith("deit_"))) {
            throw new ModelException("unknown architecture '" + arch + "': tomestream runs timm VisionTransformer"
                    + " models (vit_{tiny,small,base,large}_patch16_{224,384}, deit_{tiny,small,base}[_distilled]_patch16_224)");
        }
        int embed = 0, depth = 0, heads = 0, patch = 0, img = 0;
        if (known) {
            switch (named.group(2)) {
                case "tiny" -> { embed = 192; depth = 12; heads = 3; }
                case "small" -> { embed = 384; depth = 12; heads = 6; }
                case "base" -> { embed = 768; depth = 12; heads = 12; }
                default -> { embed = 1024; depth = 24; heads = 16; }
            }
            patch = Integer.parseInt(named.group(4));
            img = Integer.parseInt(named.group(5));
        }
        // timm's ViT configs have a fixed input size: pretrained_cfg.input_size wins over the name
        if (cfg.get("input_size") instanceof List<?> size && size.size() == 3 && size.get(1) instanceof Number h) {
            img = h.intValue();
        }
        img = intArg(args, "img_size", img);
        patch = intArg(args, "patch_size", patch);
        embed = intArg(args, "embed_dim", embed);
        depth = intArg(args, "depth", depth);
        heads = intArg(args, "num_heads", heads);
        if (img <= 0 || patch <= 0 || embed <= 0 || depth <= 0 || heads <= 0) {
            throw new ModelException("unknown architecture '" + arch + "': its shape can't be derived from the name,"
                    + " and model_args doesn't give img_size, patch_size, embed_dim, depth and num_heads");
        }
        if (img % patch != 0) throw new ModelException("img_size " + img + " is not a multiple of patch_size " + patch);
        if (embed % heads != 0) throw new ModelException("embed_dim " + embed + " is not divisible by num_heads " + heads);
        int chans = intArg(args, "in_chans", 3);
        double mlpRatio = number(args, "mlp_ratio", 4.0);
        boolean qkvBias = bool(args, "qkv_bias", true);
        boolean classToken = bool(args, "class_token", true);
        // timm builds the model from model_args alone; the top-level copy is informational
        String argPool = string(args, "global_pool", null), topPool = string(root, "global_pool", null);
        if (argPool != null && topPool != null && !argPool.equals(topPool)) {
            throw new ModelException("config.json says global_pool '" + topPool + "' but model_args.global_pool is '"
                    + argPool + "'");
        }
        GlobalPool pool = GlobalPool.of(argPool != null ? argPool : topPool != null ? topPool : "token");
        if (pool == GlobalPool.TOKEN && !classToken) {
            throw new ModelException("global_pool 'token' needs a class token, but model_args.class_token is false");
        }
        long classes = root.get("num_classes") instanceof Number n ? n.longValue() : 1000;
        if (classes <= 0) throw new ModelException("num_classes must be positive, got " + classes);

        boolean deit = arch.startsWith("deit_");
        float[] mean = floats(cfg, "mean", deit ? IMAGENET_MEAN : INCEPTION_MEAN);
        float[] std = floats(cfg, "std", deit ? IMAGENET_STD : INCEPTION_STD);
        double cropPct = number(cfg, "crop_pct", deit ? 0.875 : (img >= 384 ? 1.0 : 0.9));
        Interpolation interp;
        try {
            interp = Interpolation.parse(string(cfg, "interpolation", "bicubic"));
        } catch (IllegalArgumentException e) {
            throw new ModelException("config.json pretrained_cfg: " + e.getMessage());
        }
        if (mean.length != chans || std.length != chans) {
            // a single-channel model may still carry RGB statistics: use the first channel's
            if (chans == 1 && mean.length >= 1 && std.length >= 1) {
                mean = new float[] {mean[0]};
                std = new float[] {std[0]};
            } else {
                throw new ModelException("pretrained_cfg mean/std have " + mean.length + "/" + std.length
                        + " values but the model has " + chans + " input channels");
            }
        }
        List<String> labels = new ArrayList<>();
        if (root.get("label_names") instanceof List<?> names) {
            for (Object o : names) labels.add(String.valueOf(o));
        }
        LearnedReducer learned = LearnedReducer.parse(root, depth);
        MsVit msvit = MsVit.parse(root, patch, img / patch);
        if (learned != null && msvit != null) {
            throw new ModelException("config.json has both msvit and " + learned.kind().label() + "; a model has at most one of them");
        }
        InputSpec input;
        try {
            input = new InputSpec(chans, img, img, interp, cropPct, mean, std);
        } catch (IllegalArgumentException e) {
            throw new ModelException("config.json: " + e.getMessage());
        }
        return new ModelConfig(arch, (int) classes, pool, img, patch, chans, embed, depth, heads, mlpRatio,
                qkvBias, classToken, input, List.copyOf(labels), learned, msvit);
    }

    private static int intArg(Map<?, ?> m, String key, int dflt) throws ModelException {
        Object v = m.get(key);
        if (v == null) return dflt;
        if (v instanceof Number n) return n.intValue();
        if (v instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Number n) {
            // timm accepts (h, w); tomestream runs square inputs
            if (l.stream().anyMatch(o -> !(o instanceof Number x) || x.intValue() != n.intValue())) {
                throw new ModelException("model_args." + key + " " + l + " is not square; only square inputs are supported");
            }
            return n.intValue();
        }
        throw new ModelException("model_args." + key + " must be a number, got " + v);
    }

    private static double number(Map<?, ?> m, String key, double dflt) {
        return m.get(key) instanceof Number n ? n.doubleValue() : dflt;
    }

    private static boolean bool(Map<?, ?> m, String key, boolean dflt) {
        return m.get(key) instanceof Boolean b ? b : dflt;
    }

    private static String string(Map<?, ?> m, String key, String dflt) {
        return m.get(key) instanceof String s ? s : dflt;
    }

    private static float[] floats(Map<?, ?> m, String key, float[] dflt) {
        if (!(m.get(key) instanceof List<?> l)) return dflt;
        float[] out = new float[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = ((Number) l.get(i)).floatValue();
        return out;
    }
}

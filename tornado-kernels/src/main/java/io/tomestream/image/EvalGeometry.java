package io.tomestream.image;

/**
 * Where timm's eval transform takes an image of a given size: the size it is resized to, the filter,
 * and the top-left corner of the centre crop in the resized image (negative where the crop is larger
 * and torchvision pads with zeros).
 *
 * <p>Sources: timm 1.0 {@code transforms_imagenet_eval} with the default "center" crop mode,
 * torchvision's {@code Resize}/{@code _compute_resized_output_size} and {@code center_crop}.
 */
record EvalGeometry(int resizedWidth, int resizedHeight, Interpolation interpolation, int left, int top) {

    static EvalGeometry of(InputSpec spec, int width, int height) {
        // math.floor(img_size / crop_pct), computed in double as Python does.
        int scaleHeight = (int) Math.floor(spec.height() / spec.cropPct());
        int scaleWidth = (int) Math.floor(spec.width() / spec.cropPct());
        int newWidth;
        int newHeight;
        Interpolation interpolation = spec.interpolation();
        if (scaleHeight == scaleWidth) {
            // Resize(int): the shorter side becomes scale_size, the longer keeps the aspect ratio, truncated.
            int shorter = Math.min(width, height);
            int longer = Math.max(width, height);
            int newShorter = scaleHeight;
            int newLonger = (int) ((double) ((long) newShorter * longer) / shorter);
            newWidth = width <= height ? newShorter : newLonger;
            newHeight = width <= height ? newLonger : newShorter;
        } else {
            // timm's ResizeKeepRatio(scale_size): Python's round (half to even) of each side over the
            // smaller ratio. timm 1.0 does not pass the model's interpolation to it, so it is bilinear.
            double ratio = Math.min((double) height / scaleHeight, (double) width / scaleWidth);
            newHeight = (int) Math.rint(height / ratio);
            newWidth = (int) Math.rint(width / ratio);
            interpolation = Interpolation.BILINEAR;
        }
        return new EvalGeometry(newWidth, newHeight, interpolation,
                cropStart(newWidth, spec.width()), cropStart(newHeight, spec.height()));
    }

    /**
     * torchvision pads a too-small side by {@code (crop - size) // 2} before the crop, and otherwise
     * starts the crop at {@code int(round((size - crop) / 2.0))}, a half-to-even round.
     */
    private static int cropStart(int size, int crop) {
        return crop > size ? -((crop - size) / 2) : (int) Math.rint((size - crop) / 2.0);
    }
}

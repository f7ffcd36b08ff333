//! Understanding-image preprocessing, DeepSeek's way (janus-spec.md §5): decode, RGB, longest side
//! to 384 with the other side *truncated* (`int(h / m * 384)`, at least 14), Pillow bicubic,
//! centred on a (127, 127, 127) square, then `(v / 255 - 0.5) / 0.5` into [-1, 1], CHW.
//!
//! Decoding is bounded: dimensions are checked before pixels are allocated, and EXIF orientation
//! is applied so phone photos are upright.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use super::resample::resize_bicubic;
use crate::error::ImageError;

/// Larger images are refused before decoding.
pub const MAX_PIXELS: u64 = 64_000_000;
pub const MAX_SIDE: u32 = 16_384;
/// Smallest resized side (DeepSeek's `min_size`).
const MIN_SIDE: usize = 14;
/// Padding colour: `int(0.5 * 255)` per channel.
const BACKGROUND: u8 = 127;

/// An image ready for the vision tower.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedImage {
    /// `[3, size, size]` values in [-1, 1], channel-major.
    pub pixels: Vec<f32>,
    pub size: usize,
    /// The size the picture was resized to before padding (`w, h`).
    pub resized: (usize, usize),
}

/// Decode PNG / JPEG / WebP / GIF bytes into upright RGB8.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, ImageError> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImageError::Decode(e.to_string()))
    };
    if reader()?.format().is_none() {
        return Err(ImageError::UnknownFormat);
    }
    // Dimensions come from the header alone; refuse before any pixel is allocated.
    let (w, h) = reader()?.into_dimensions().map_err(classify)?;
    if w == 0 || h == 0 {
        return Err(ImageError::Empty);
    }
    if w > MAX_SIDE || h > MAX_SIDE || w as u64 * h as u64 > MAX_PIXELS {
        return Err(ImageError::TooLarge {
            width: w,
            height: h,
            max_pixels: MAX_PIXELS,
            max_side: MAX_SIDE,
        });
    }
    let mut reader = reader()?;
    // A second line of defence against headers that understate what decoding allocates.
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + (1 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    // PIL's convert("RGB"): alpha is dropped, not composited; grey is replicated.
    Ok(img.to_rgb8())
}

fn classify(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Unsupported(_) => ImageError::UnknownFormat,
        image::ImageError::Limits(l) => {
            ImageError::Decode(format!("the image needs more memory than allowed ({l})"))
        }
        other => ImageError::Decode(other.to_string()),
    }
}

/// DeepSeek's target size for `w x h` with longest side `size` (truncating, minimum 14).
pub fn target_size(w: usize, h: usize, size: usize) -> (usize, usize) {
    let m = w.max(h) as f64;
    let side = |v: usize| ((v as f64 / m * size as f64) as usize).max(MIN_SIDE);
    (side(w), side(h))
}

/// Resize (Pillow bicubic) and centre on a `size x size` grey square; returns the canvas and the
/// resized size.
pub fn resize_and_pad(img: &RgbImage, size: usize) -> (RgbImage, (usize, usize)) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (nw, nh) = target_size(w, h, size);
    let resized = resize_bicubic(img.as_raw(), w, h, nw, nh);
    let mut canvas = vec![BACKGROUND; size * size * 3];
    // PIL paste offsets: (0, (w'-h')/2) when wider, ((h'-w')/2, 0) when taller.
    let (ox, oy) = if nw >= nh {
        (0, (nw - nh) / 2)
    } else {
        ((nh - nw) / 2, 0)
    };
    for y in 0..nh.min(size.saturating_sub(oy)) {
        let cols = nw.min(size.saturating_sub(ox));
        let src = &resized[y * nw * 3..(y * nw + cols) * 3];
        let dst = ((y + oy) * size + ox) * 3;
        canvas[dst..dst + cols * 3].copy_from_slice(src);
    }
    let canvas = RgbImage::from_raw(size as u32, size as u32, canvas)
        .unwrap_or_else(|| RgbImage::new(size as u32, size as u32));
    (canvas, (nw, nh))
}

/// `[3, size, size]` in [-1, 1]: `(v / 255 - 0.5) / 0.5`, in f32 as the reference does.
pub fn normalize(canvas: &RgbImage) -> Vec<f32> {
    let (w, h) = (canvas.width() as usize, canvas.height() as usize);
    let raw = canvas.as_raw();
    let mut out = vec![0f32; 3 * w * h];
    for i in 0..w * h {
        for c in 0..3 {
            out[c * w * h + i] = (raw[i * 3 + c] as f32 / 255.0 - 0.5) / 0.5;
        }
    }
    out
}

/// Bytes of an image file -> model input of side `size`.
pub fn preprocess(bytes: &[u8], size: usize) -> Result<PreparedImage, ImageError> {
    let img = decode_image(bytes)?;
    Ok(prepare_rgb(&img, size))
}

/// An already decoded RGB image -> model input of side `size`.
pub fn prepare_rgb(img: &RgbImage, size: usize) -> PreparedImage {
    let (canvas, resized) = resize_and_pad(img, size);
    PreparedImage {
        pixels: normalize(&canvas),
        size,
        resized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_sizes_truncate_like_deepseek() {
        assert_eq!(target_size(767, 206, 384), (384, 103));
        assert_eq!(target_size(206, 767, 384), (103, 384));
        assert_eq!(target_size(1000, 10, 384), (384, 14));
        assert_eq!(target_size(300, 170, 384), (384, 217));
    }

    #[test]
    fn normalises_to_minus_one_one() {
        let img = RgbImage::from_raw(1, 1, vec![0, 127, 255]).unwrap();
        let v = normalize(&img);
        assert_eq!(v[0], -1.0);
        assert!((v[1] + 0.003_921_569).abs() < 1e-6);
        assert_eq!(v[2], 1.0);
    }

    #[test]
    fn rejects_non_images_and_truncated_files() {
        assert!(matches!(
            decode_image(b"hello world, not an image"),
            Err(ImageError::UnknownFormat)
        ));
        let mut png = Vec::new();
        let img = RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
        img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert!(decode_image(&png).is_ok());
        assert!(decode_image(&png[..png.len() / 2]).is_err());
    }

    /// A phone photo stored sideways with an EXIF orientation tag (6: rotate 90° clockwise to
    /// view) decodes upright: a 16 x 8 JPEG whose left half is dark becomes 8 x 16 with the dark
    /// half on top (RELIABILITY.md P10).
    #[test]
    fn exif_orientation_is_applied() {
        let img = RgbImage::from_fn(16, 8, |x, _| {
            image::Rgb(if x < 8 { [0, 0, 0] } else { [255, 255, 255] })
        });
        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        // An APP1 segment right after the start marker: "Exif\0\0", a little-endian TIFF header,
        // one IFD entry (0x0112 Orientation, SHORT, count 1, value 6), no next IFD.
        let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
        exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
        let mut tagged = jpeg[..2].to_vec();
        tagged.extend_from_slice(&[0xFF, 0xE1]);
        tagged.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        tagged.extend_from_slice(&exif);
        tagged.extend_from_slice(&jpeg[2..]);

        let plain = decode_image(&jpeg).unwrap();
        assert_eq!(plain.dimensions(), (16, 8));
        let upright = decode_image(&tagged).unwrap();
        assert_eq!(
            upright.dimensions(),
            (8, 16),
            "the orientation tag was not applied"
        );
        let luma = |x: u32, y: u32| upright.get_pixel(x, y).0[0];
        assert!(luma(4, 2) < 64, "the dark half should be on top");
        assert!(luma(4, 13) > 192, "the light half should be below");
    }
}

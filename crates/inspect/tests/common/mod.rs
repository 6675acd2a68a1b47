//! A made-up record shaped like a monitor's (three Linear-Tanh blocks, twenty steps,
//! histograms at steps 0 and 10) and checks on PNG bytes.
#![allow(dead_code)]

use ferrograd_inspect::{Histogram, LayerKind, LayerStats, ParamStats, Record, StepRecord, Warning, WarningKind};

/// A histogram of a bell of width `std` around `mean` over 30 bins.
pub fn bell(mean: f64, std: f64, saturated: Option<f64>) -> Histogram {
    let bins = 30;
    let edges: Vec<f64> = (0..=bins)
        .map(|i| mean - 3.0 * std + 6.0 * std * i as f64 / bins as f64)
        .collect();
    let counts = edges
        .windows(2)
        .map(|w| {
            let z = ((w[0] + w[1]) / 2.0 - mean) / std;
            (1000.0 * (-0.5 * z * z).exp()) as u64
        })
        .collect();
    Histogram {
        edges,
        counts,
        mean,
        std,
        saturated,
    }
}

pub fn layer(name: &str, kind: LayerKind, step: usize, with_hist: bool) -> LayerStats {
    let depth = name.len() as f64;
    let std = 0.5 + 0.1 * depth;
    let grad_std = 1e-3 * (0.5f64).powf(depth) * (1.0 + step as f64 / 20.0);
    let saturated = (kind == LayerKind::Tanh).then_some(0.05 * depth);
    LayerStats {
        layer: name.to_string(),
        module_type: if kind == LayerKind::Tanh { "Tanh" } else { "Linear" }.to_string(),
        kind,
        shape: vec![32, 100],
        mean: 0.01 * depth,
        std,
        saturated,
        dead: None,
        grad_mean: Some(0.0),
        grad_std: Some(grad_std),
        hist: with_hist.then(|| bell(0.0, std, saturated)),
        grad_hist: with_hist.then(|| bell(0.0, grad_std, None)),
    }
}

pub fn record() -> Record {
    let mut steps = Vec::new();
    for step in 0..20 {
        let with_hist = step == 0 || step == 10;
        let mut layers = Vec::new();
        let mut params = Vec::new();
        for b in 0..3 {
            layers.push(layer(&format!("{}", 2 * b), LayerKind::Other, step, false));
            layers.push(layer(&format!("{}", 2 * b + 1), LayerKind::Tanh, step, with_hist));
            for (suffix, shape) in [("weight", vec![100, 100]), ("bias", vec![100])] {
                params.push(ParamStats {
                    name: format!("{}.{suffix}", 2 * b),
                    shape,
                    data_std: 0.1,
                    grad_std: Some(1e-3),
                    grad_data_ratio: Some(1e-2),
                    update_ratio_log10: Some(-2.0 - b as f64 * 0.5 - step as f64 * 0.02),
                });
            }
        }
        steps.push(StepRecord {
            step,
            loss: Some(3.0 - 0.1 * step as f64),
            layers,
            params,
        });
    }
    let warnings = vec![Warning {
        step: 3,
        layer: "5".into(),
        kind: WarningKind::Saturation,
        message: "layer 5 (Tanh) at step 3: 25.0% of units saturated (|y| > 0.97) <check>".into(),
    }];
    Record { steps, warnings }
}

/// Decodes PNG bytes: (width, height, number of distinct colours).
pub fn decode(png_bytes: &[u8]) -> (u32, u32, usize) {
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().expect("a readable PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("readable PNG data");
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(channels).collect();
    (info.width, info.height, colours.len())
}

/// Asserts the bytes are a PNG of the given size with more than a background on it.
pub fn assert_picture(png_bytes: &[u8], width: u32, height: u32) {
    let (w, h, colours) = decode(png_bytes);
    assert_eq!((w, h), (width, height));
    assert!(colours > 8, "the picture is blank ({colours} colours)");
}

//! Each picture is a valid PNG of the stated size that is not blank, and malformed records
//! give a clear error or a sensible picture, never a panic.

use crate::common;

use common::{assert_picture, decode, record};
use ferrograd_inspect::plot::{activation_histograms, grad_stds, gradient_histograms, update_ratios, HEIGHT, WIDTH};
use ferrograd_inspect::Record;

#[test]
fn every_picture_is_a_png_with_something_on_it() {
    let r = record();
    assert_picture(&activation_histograms(&r, None).unwrap(), WIDTH, HEIGHT);
    assert_picture(&activation_histograms(&r, Some(0)).unwrap(), WIDTH, HEIGHT);
    assert_picture(&gradient_histograms(&r, None).unwrap(), WIDTH, HEIGHT);
    assert_picture(&update_ratios(&r).unwrap(), WIDTH, HEIGHT);
    assert_picture(&grad_stds(&r).unwrap(), WIDTH, HEIGHT);
    if let Ok(dir) = std::env::var("FERROGRAD_PICTURES") {
        for (name, png) in [
            ("activations.png", activation_histograms(&r, None).unwrap()),
            ("gradients.png", gradient_histograms(&r, None).unwrap()),
            ("update_ratios.png", update_ratios(&r).unwrap()),
            ("grad_stds.png", grad_stds(&r).unwrap()),
        ] {
            ferrograd_inspect::plot::write_png(format!("{dir}/{name}"), &png).unwrap();
        }
    }
}

#[test]
fn an_empty_record_is_an_error_naming_the_picture() {
    let empty = Record::default();
    for (name, result) in [
        ("activation_histograms", activation_histograms(&empty, None)),
        ("gradient_histograms", gradient_histograms(&empty, None)),
        ("update_ratios", update_ratios(&empty)),
        ("grad_stds", grad_stds(&empty)),
    ] {
        let e = result.unwrap_err().to_string();
        assert!(e.starts_with(name), "{e}");
    }
    let e = activation_histograms(&record(), Some(7)).unwrap_err().to_string();
    assert!(e.contains("step 7 has no activation histogram"), "{e}");
    let e = activation_histograms(&record(), Some(99)).unwrap_err().to_string();
    assert!(e.contains("step 99 is not in the record"), "{e}");
}

#[test]
fn nan_statistics_are_left_out_or_spelled_out() {
    let mut r = record();
    for step in &mut r.steps {
        for p in &mut step.params {
            p.update_ratio_log10 = Some(f64::NAN);
        }
        for l in &mut step.layers {
            l.grad_std = Some(f64::INFINITY);
            if let Some(h) = &mut l.hist {
                h.mean = f64::NAN;
                h.counts.iter_mut().for_each(|c| *c = 0);
            }
        }
    }
    // no finite ratio at all: the axes and a note
    assert_picture(&update_ratios(&r).unwrap(), WIDTH, HEIGHT);
    assert_picture(&grad_stds(&r).unwrap(), WIDTH, HEIGHT);
    assert_picture(&activation_histograms(&r, None).unwrap(), WIDTH, HEIGHT);
    // one step only
    r.steps.truncate(1);
    assert_picture(&update_ratios(&r).unwrap(), WIDTH, HEIGHT);
}

#[test]
fn a_malformed_histogram_is_an_error_naming_the_layer() {
    let mut r = record();
    let h = r.steps[10].layers[1].hist.as_mut().unwrap();
    h.edges.pop();
    let e = activation_histograms(&r, Some(10)).unwrap_err().to_string();
    assert!(e.contains("layer \"1\"") && e.contains("edges"), "{e}");
    let h = r.steps[10].layers[1].hist.as_mut().unwrap();
    h.edges = vec![f64::NAN; h.counts.len() + 1];
    assert!(activation_histograms(&r, Some(10)).is_err());
    // the PNG check itself rejects non-PNG bytes
    assert!(std::panic::catch_unwind(|| decode(b"not a png")).is_err());
}

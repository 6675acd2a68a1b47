//! The report holds every section, embeds its pictures, needs nothing from the network, and
//! rejects what is not a picture.

use crate::common;

use common::record;
use ferrograd_autograd::Var;
use ferrograd_inspect::report::{base64, Report};
use ferrograd_inspect::{graph_svg, Record};
use ferrograd_tensor::Tensor;

#[test]
fn base64_matches_rfc_4648() {
    // The test vectors of RFC 4648, section 10.
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
    assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
}

#[test]
fn a_run_gives_every_section_with_its_pictures_embedded() {
    let r = record();
    let w = Var::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap());
    let loss = (&w * &w).sum();
    loss.backward().unwrap();
    let mut report = Report::new("Run <one> & two");
    report.record("plain init", &r).unwrap();
    report.record("nothing recorded", &Record::default()).unwrap();
    report
        .heading("Graph")
        .svg("the graph of a loss", &graph_svg(&[loss]).unwrap())
        .unwrap();
    report
        .table("by hand", &["a", "b"], vec![vec!["1".into(), "2".into()]])
        .unwrap();
    let html = report.to_html();
    if let Ok(dir) = std::env::var("FERROGRAD_PICTURES") {
        report.write(format!("{dir}/report.html")).unwrap();
    }

    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<title>Run &lt;one&gt; &amp; two</title>"));
    for section in ["plain init", "nothing recorded", "Graph"] {
        assert!(html.contains(&format!("\">{section}</h2>")), "no section {section}");
        assert!(
            html.contains(&format!("\">{section}</a></li>")),
            "{section} is not in the contents"
        );
    }
    for caption in [
        "Layers at step 19",
        "Parameters at step 19",
        "Activations of each layer",
        "Gradient reaching each layer",
        "Update:data ratio per parameter",
        "Std of the gradient reaching each layer",
        "the graph of a loss",
        "by hand",
        "No step was recorded.",
    ] {
        assert!(html.contains(caption), "no {caption:?}");
    }
    // four pictures of the run, each a PNG in a data URI, and one inline SVG
    assert_eq!(html.matches("src=\"data:image/png;base64,iVBORw0KGgo").count(), 4);
    assert_eq!(html.matches("<svg ").count(), 1);
    // warnings, escaped, naming layer and step
    assert!(html.contains("<li><b>saturation</b> in 5: step 3</li>") && html.contains("&lt;check&gt;"));
    // every layer and parameter of the last step has a row
    assert_eq!(html.matches("<td>Tanh</td>").count(), 3);
    assert!(html.contains("<td>4.weight</td><td>[100, 100]</td>"));
    // self-contained: no script, nothing fetched
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(!html.contains("<link"));
}

#[test]
fn what_is_not_a_picture_or_a_table_is_refused() {
    let mut report = Report::new("t");
    let e = report.png("blank", b"GIF89a").unwrap_err().to_string();
    assert!(e.contains("Report::png") && e.contains("\"blank\""), "{e}");
    let e = report.svg("graph", "<html></html>").unwrap_err().to_string();
    assert!(e.contains("Report::svg"), "{e}");
    let e = report
        .table("t", &["a", "b"], vec![vec!["1".into()]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 0 has 1 cells, expected 2"), "{e}");
    // a record with NaN statistics still gives a page
    let mut r = record();
    r.steps
        .iter_mut()
        .flat_map(|s| &mut s.layers)
        .for_each(|l| l.std = f64::NAN);
    let html = report.record("nan", &r).unwrap().to_html();
    assert!(html.contains("<td>NaN</td>"));
}

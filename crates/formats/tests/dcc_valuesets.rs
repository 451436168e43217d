//! Every vaccine product Outbreak certifies is named by codes the EU value sets hold
//! (`shared/dcc-spec/valuesets` beside the repository): medicinal product, marketing
//! authorisation holder or manufacturer, and vaccine type, and the disease is COVID-19.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use outbreak_domain::vaccination::PRODUCTS;

/// The codes of one value set file, or `None` when the folder is absent.
fn codes(file: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/dcc-spec/valuesets").join(file);
    let text = std::fs::read_to_string(path).ok()?;
    let set: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(set["valueSetValues"].as_object().unwrap().clone())
}

#[test]
fn every_product_is_coded_from_the_eu_value_sets() {
    let (Some(products), Some(holders), Some(types), Some(diseases)) = (
        codes("vaccine-medicinal-product.json"),
        codes("vaccine-mah-manf.json"),
        codes("vaccine-prophylaxis.json"),
        codes("disease-agent-targeted.json"),
    ) else {
        eprintln!("SKIPPED: no ../shared/dcc-spec/valuesets beside the repository");
        return;
    };
    for p in PRODUCTS {
        assert!(products.contains_key(p.eu_product), "{}: medicinal product {}", p.code, p.eu_product);
        assert!(holders.contains_key(p.eu_manufacturer), "{}: manufacturer {}", p.code, p.eu_manufacturer);
        assert!(types.contains_key(p.eu_prophylaxis), "{}: vaccine type {}", p.code, p.eu_prophylaxis);
    }
    assert!(diseases.contains_key("840539006"), "COVID-19 is the disease certificates target");
}

//! The software bill of materials every binary carries: a CycloneDX JSON document in the ELF
//! section `.pyelf.sbom` (allocated, so `strip` keeps it), listing what is inside with versions,
//! licences and the sha256 of each source. No timestamps: the same inputs give the same bytes.

use anyhow::{Context, Result};
use goblin::elf::Elf;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The ELF section the document lives in.
pub const SECTION: &str = ".pyelf.sbom";

/// One thing inside a binary.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub license: String,
    /// sha256 of the source archive (or wheel, or script) it was built from.
    pub sha256: String,
    pub url: Option<String>,
}

/// The sources a toolchain was built from, by name: `(version, sha256 of the archive used)`.
pub fn toolchain_sources(toolchain_root: &Path) -> Result<BTreeMap<String, (String, String)>> {
    let m = crate::toolchain::manifest::Manifest::read(toolchain_root)?;
    Ok(m.source.into_iter().map(|s| (s.name, (s.version, s.sha256))).collect())
}

/// The SBOM metadata property that names the target a binary was built for.
pub const TARGET_PROPERTY: &str = "pyelf:target";

/// The CycloneDX document of an app and its components, built for `target` (a metadata property,
/// which `verify` reads).
pub fn document(app: &Component, components: &[Component], target: &str) -> Value {
    let component = |c: &Component, kind: &str| {
        let mut v = json!({
            "type": kind,
            "bom-ref": c.name,
            "name": c.name,
            "version": c.version,
            "licenses": [{"license": {"id": c.license}}],
            "hashes": [{"alg": "SHA-256", "content": c.sha256}],
        });
        if let Some(url) = &c.url {
            v["externalReferences"] = json!([{"type": "distribution", "url": url}]);
        }
        v
    };
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "pyelf", "version": env!("CARGO_PKG_VERSION")}]},
            "component": component(app, "application"),
            "properties": [{"name": TARGET_PROPERTY, "value": target}],
        },
        "components": components.iter().map(|c| component(c, "library")).collect::<Vec<_>>(),
    })
}

/// The SBOM in a binary, as text.
pub fn read(binary: &Path) -> Result<String> {
    let bytes = fs_err::read(binary)?;
    let elf = Elf::parse(&bytes).with_context(|| format!("{} is not an ELF file", binary.display()))?;
    let section = elf
        .section_headers
        .iter()
        .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(SECTION))
        .with_context(|| format!("{} has no {SECTION} section (not built by this pyelf?)", binary.display()))?;
    let range = section.file_range().context("the SBOM section has no contents")?;
    let data = bytes.get(range).context("the SBOM section lies outside the file")?;
    let text = std::str::from_utf8(data).context("the SBOM is not UTF-8")?;
    Ok(text.trim_end_matches('\0').to_string())
}

/// The target an SBOM names (the `pyelf:target` property of its metadata), if any.
pub fn target(sbom: &Value) -> Option<String> {
    sbom["metadata"]["properties"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == TARGET_PROPERTY)
        .and_then(|p| p["value"].as_str())
        .map(String::from)
}

/// Parses an SBOM and checks the fields pyelf writes.
pub fn validate(text: &str) -> Result<Value> {
    let v: Value = serde_json::from_str(text).context("the SBOM is not valid JSON")?;
    anyhow::ensure!(v["bomFormat"] == "CycloneDX", "the SBOM is not a CycloneDX document");
    let components = v["components"].as_array().context("the SBOM lists no components")?;
    for c in components {
        anyhow::ensure!(
            c["name"].is_string() && c["version"].is_string() && c["hashes"][0]["content"].is_string(),
            "an SBOM component lacks a name, version or hash: {c}"
        );
    }
    anyhow::ensure!(components.iter().any(|c| c["name"] == "cpython"), "the SBOM does not list CPython");
    Ok(v)
}

/// Assembly that places `file` into the SBOM section: allocated, so that `strip` keeps it, and
/// retained (`R`, SHF_GNU_RETAIN), so that the link's `--gc-sections` keeps it though no code
/// refers to it.
pub fn section_asm(file: &Path) -> String {
    crate::build::freeze::incbin_asm(&format!("{SECTION},\"aR\",@progbits"), None, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_validate() {
        let c = |n: &str| Component {
            name: n.into(),
            version: "1".into(),
            license: "MIT".into(),
            sha256: "ab".repeat(32),
            url: None,
        };
        let doc = document(&c("app"), &[c("musl"), c("cpython")], "aarch64-unknown-linux-musl");
        let v = validate(&doc.to_string()).unwrap();
        assert_eq!(v["components"].as_array().unwrap().len(), 2);
        assert_eq!(target(&v).as_deref(), Some("aarch64-unknown-linux-musl"), "the target is named");
        assert_eq!(target(&serde_json::json!({"metadata": {}})), None, "an SBOM of an older pyelf names none");
        assert!(validate(&document(&c("app"), &[c("musl")], "t").to_string()).is_err(), "CPython must be listed");
        assert!(validate("{}").is_err());
    }
}

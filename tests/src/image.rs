//! Looking inside an image the engine holds: every regular file of its layers, from
//! `docker save` (the engine's export), with its contents.

use bollard::Docker;
use futures_util::TryStreamExt;

/// Every regular file of the image `id`'s layers: (path inside the image, contents).
pub async fn files(docker: &Docker, id: &str) -> Vec<(String, Vec<u8>)> {
    let bytes: Vec<u8> = docker
        .export_image(id)
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .expect("docker save");
    let mut files = Vec::new();
    let mut saved = tar::Archive::new(bytes.as_slice());
    for entry in saved.entries().expect("saved image") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").display().to_string();
        if !path.ends_with("layer.tar") && !path.starts_with("blobs/") {
            continue;
        }
        let mut layer = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut layer).expect("layer");
        let mut layer_archive = tar::Archive::new(layer.as_slice());
        let Ok(entries) = layer_archive.entries() else {
            continue;
        };
        for mut file in entries.flatten() {
            if file.header().entry_type().is_file() {
                let path = file.path().expect("path").display().to_string();
                let mut contents = Vec::new();
                std::io::Read::read_to_end(&mut file, &mut contents).expect("file");
                files.push((path, contents));
            }
        }
    }
    files
}

//! `tidal info`: the adapters wgpu finds and which one tidal would use.

use super::AdapterArgs;
use tidal::gpu::list_adapters;

pub fn info(args: &AdapterArgs, json: bool) -> anyhow::Result<()> {
    let choice = args.choice();
    let (list, chosen) = list_adapters(&choice)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "adapters": list,
                "chosen": chosen,
                "data_cache": tidal::data::default_cache_dir(),
                "kernel_cache": tidal::tune::cache_path(),
                "kernel_choices": tidal::tune::cached_entries(),
            }))?
        );
        return Ok(());
    }
    if list.is_empty() {
        anyhow::bail!(tidal::error::LAVAPIPE_HINT);
    }
    println!(
        "{:<3} {:<2} {:<36} {:<8} {:<13} {:>8} {:>14} {:>15} {:>10}",
        "", "#", "name", "backend", "type", "vendor", "max storage", "max wg size", "wg storage"
    );
    for a in &list {
        let mark = if Some(a.index) == chosen { "->" } else { "" };
        println!(
            "{:<3} {:<2} {:<36} {:<8} {:<13} {:>#8x} {:>10} MiB {:>15} {:>6} KiB",
            mark,
            a.index,
            a.name,
            a.backend,
            a.device_type,
            a.vendor,
            a.max_storage_buffer_binding_size >> 20,
            format!("{:?}", a.max_compute_workgroup_size),
            a.max_compute_workgroup_storage_size >> 10,
        );
        if !a.driver.is_empty() || !a.driver_info.is_empty() {
            println!("{:<6} driver: {} {}", "", a.driver, a.driver_info);
        }
        println!(
            "{:<6} f16: {}; cooperative matrices: {}",
            "",
            if a.shader_f16 { "yes" } else { "no" },
            if a.cooperative_matrix.is_empty() {
                "none".to_string()
            } else {
                a.cooperative_matrix.join(", ")
            }
        );
    }
    match chosen {
        Some(i) => println!("\ntidal would use adapter {i} ({}).", list[i].name),
        None => println!("\nno adapter matches the requested --adapter/--backend."),
    }
    let (cache, origin) = tidal::data::cache_dir_and_origin();
    println!("data cache: {} (from {origin})", cache.display());
    let entries = tidal::tune::cached_entries();
    match tidal::tune::cache_path() {
        Some(p) if entries.is_empty() => println!(
            "kernel variants: none chosen yet (the first train or bench times them; cache {})",
            p.display()
        ),
        Some(p) => {
            println!("kernel variants chosen by trial (cache {}):", p.display());
            for (key, e) in &entries {
                let ms: Vec<String> = e
                    .trial_ms
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.1} ms"))
                    .collect();
                println!("  {key}\n    -> {}   ({})", e.kernels, ms.join(", "));
            }
        }
        None => println!("kernel variants: no cache directory (set TIDAL_CACHE_DIR or HOME)"),
    }
    Ok(())
}

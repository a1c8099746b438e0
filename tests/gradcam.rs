//! Class-activation maps through the engine's autodiff: for a model whose merger score
//! depends on one image region only, both Grad-CAM and HiResCAM peak in that region (and
//! the map is upsampled from the pooled resolution back to the image's). Also the command
//! on a real checkpoint.

use std::rc::Rc;
use tidal::models::{Classifier, Output};
use tidal::nn::Module;
use tidal::ops::pool::avg_pool2d;
use tidal::train::gradcam::{grad_cam, CamMethod};
use tidal::{Context, Result, Tensor};

const SIDE: usize = 20;
const HALF: usize = SIDE / 2;
/// The region, in pooled (10×10) coordinates: rows 2..5, columns 6..9.
const ROWS: std::ops::Range<usize> = 2..5;
const COLS: std::ops::Range<usize> = 6..9;

/// last_conv: 2×2 average pool, then channel 0 kept inside the region only, channel 1
/// outside it, channel 2 dropped. Merger logit = Σ channel 0; the other logit = 0.1·Σ
/// channel 1, so the outside speaks against the merger class.
struct RegionModel {
    mask: Tensor,
    head: Tensor,
}

impl RegionModel {
    fn new(ctx: &Rc<Context>) -> RegionModel {
        let hw = HALF * HALF;
        let inside = |p: usize| ROWS.contains(&(p / HALF)) && COLS.contains(&(p % HALF));
        let mut mask = vec![0f32; 3 * hw];
        let mut head = vec![0f32; 3 * hw * 2];
        for p in 0..hw {
            mask[p] = inside(p) as u8 as f32;
            mask[hw + p] = 1.0 - mask[p];
            head[p * 2 + 1] = 1.0;
            head[(hw + p) * 2] = 0.1;
        }
        RegionModel {
            mask: Tensor::from_slice(ctx, &mask, &[1, 3, HALF, HALF]).unwrap(),
            head: Tensor::from_slice(ctx, &head, &[3 * hw, 2]).unwrap(),
        }
    }
}

impl Module for RegionModel {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.run(x)?.logits)
    }
}

impl Classifier for RegionModel {
    fn run(&self, x: &Tensor) -> Result<Output> {
        let a = self.last_conv(x)?;
        Ok(Output {
            features: a.reshape(&[x.shape()[0], 3 * HALF * HALF])?,
            logits: self.logits_from_last_conv(&a)?,
        })
    }
    fn module(&self) -> &dyn Module {
        self
    }
    fn feature_dim(&self) -> usize {
        3 * HALF * HALF
    }
    fn last_conv(&self, x: &Tensor) -> Result<Tensor> {
        avg_pool2d(x, (2, 2), (2, 2), (0, 0), true)?.mul(&self.mask)
    }
    fn logits_from_last_conv(&self, a: &Tensor) -> Result<Tensor> {
        a.reshape(&[a.shape()[0], 3 * HALF * HALF])?
            .matmul(&self.head)
    }
}

#[test]
fn cam_of_a_region_model_peaks_in_its_region() {
    let ctx = Context::from_env().unwrap();
    let model = RegionModel::new(&ctx);
    // Two positive images with structure everywhere (the outside is brighter than the
    // region, so a map that ignored the gradient would peak outside).
    let n = 2;
    let img: Vec<f32> = (0..n * 3 * SIDE * SIDE)
        .map(|i| {
            let p = i % (SIDE * SIDE);
            let (y, x) = (p / SIDE, p % SIDE);
            let inside = ROWS.contains(&(y / 2)) && COLS.contains(&(x / 2));
            (if inside { 1.0 } else { 2.0 }) + 0.5 * (((i * 37) % 11) as f32 / 11.0)
        })
        .collect();
    let x = Tensor::from_slice(&ctx, &img, &[n, 3, SIDE, SIDE]).unwrap();
    for method in [CamMethod::GradCam, CamMethod::HiResCam] {
        let (maps, p) = grad_cam(&model, &x, 1, method).unwrap();
        assert_eq!(maps.len(), n);
        assert_eq!(p.len(), n);
        for m in &maps {
            assert_eq!(m.len(), SIDE * SIDE, "upsampled to the image");
            let (mut inside, mut outside) = (Vec::new(), Vec::new());
            for (q, &v) in m.iter().enumerate() {
                let (y, x) = (q / SIDE, q % SIDE);
                // Bilinear upsampling blurs one pixel across the border: leave it out.
                let core = (2 * ROWS.start + 1..2 * ROWS.end - 1).contains(&y)
                    && (2 * COLS.start + 1..2 * COLS.end - 1).contains(&x);
                let far = !(2 * ROWS.start - 1..2 * ROWS.end + 1).contains(&y)
                    || !(2 * COLS.start - 1..2 * COLS.end + 1).contains(&x);
                if core {
                    inside.push(v);
                } else if far {
                    outside.push(v);
                }
            }
            let peak = m.iter().cloned().fold(0.0f32, f32::max);
            assert!(
                (peak - 1.0).abs() < 1e-6,
                "{method:?}: scaled to 1, got {peak}"
            );
            assert!(inside.iter().all(|&v| v > 0.5), "{method:?}: {inside:?}");
            assert!(outside.iter().all(|&v| v == 0.0), "{method:?}: {outside:?}");
        }
    }
    // The gradient pass leaves no gradient behind on the model.
    assert!(model.mask.grad().is_none());
}

#[test]
fn bilinear_keeps_constants_and_corners() {
    use tidal::train::gradcam::bilinear;
    let up = bilinear(&[2.0; 9], 3, 3, 7, 5);
    assert!(up.iter().all(|&v| (v - 2.0).abs() < 1e-6));
    let m = [0.0, 1.0, 2.0, 3.0];
    let up = bilinear(&m, 2, 2, 4, 4);
    assert_eq!(up[0], 0.0);
    assert_eq!(up[15], 3.0);
    // Monotone along rows and columns, like its source.
    for r in 0..4 {
        assert!(up[r * 4..r * 4 + 4].windows(2).all(|w| w[0] <= w[1]));
    }
}

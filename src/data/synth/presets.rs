//! The observation domains and their presets: band responses, PSF, sky and noise.

use serde::Serialize;

/// The three observation domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// PSF convolution only (like the published "pristine" images).
    Pristine,
    /// PSF + sky background + Poisson shot noise to a 25 mag/arcsec² limit (like "noisy").
    Noisy,
    /// A coarser Moffat PSF, a brighter sky and different band responses (ground-based).
    Sdss,
}

impl Domain {
    pub const ALL: [Domain; 3] = [Domain::Pristine, Domain::Noisy, Domain::Sdss];

    pub fn name(self) -> &'static str {
        match self {
            Domain::Pristine => "pristine",
            Domain::Noisy => "noisy",
            Domain::Sdss => "sdss",
        }
    }

    /// The preset's parameters (documented in `data/README.md`).
    pub fn preset(self) -> Preset {
        // Wide-field HST/JWST-like optics shared by pristine and noisy: 0.08"/px,
        // Gaussian PSFs of FWHM 0.10", 0.15", 0.13" for F814W, F160W, F356W.
        let space_psf = [
            Psf::Gaussian { fwhm_px: 1.25 },
            Psf::Gaussian { fwhm_px: 1.9 },
            Psf::Gaussian { fwhm_px: 1.6 },
        ];
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        match self {
            Domain::Pristine => Preset {
                domain: self,
                pixel_scale_arcsec: 0.08,
                zero_point: 25.0,
                psf: space_psf,
                band_response: identity,
                noise: None,
            },
            Domain::Noisy => Preset {
                domain: self,
                pixel_scale_arcsec: 0.08,
                zero_point: 25.0,
                psf: space_psf,
                band_response: identity,
                noise: Some(Noise {
                    sb_limit: [25.0; 3],
                    sky_sb: [20.0; 3],
                }),
            },
            Domain::Sdss => Preset {
                domain: self,
                pixel_scale_arcsec: 0.08,
                zero_point: 25.0,
                psf: [
                    Psf::Moffat {
                        fwhm_px: 3.4,
                        beta: 2.5,
                    },
                    Psf::Moffat {
                        fwhm_px: 3.1,
                        beta: 2.5,
                    },
                    Psf::Moffat {
                        fwhm_px: 2.9,
                        beta: 2.5,
                    },
                ],
                // g, r, i-like responses: broad, overlapping, mixing the intrinsic bands.
                band_response: [[0.75, 0.25, 0.0], [0.2, 0.65, 0.15], [0.0, 0.35, 0.65]],
                noise: Some(Noise {
                    sb_limit: [24.2, 24.5, 24.0],
                    sky_sb: [19.0, 18.5, 18.0],
                }),
            },
        }
    }
}

impl std::str::FromStr for Domain {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Domain> {
        match s.to_ascii_lowercase().as_str() {
            "pristine" => Ok(Domain::Pristine),
            "noisy" => Ok(Domain::Noisy),
            "sdss" => Ok(Domain::Sdss),
            _ => Err(crate::Error::config(
                "domain",
                format!("unknown domain '{s}' (expected pristine, noisy or sdss)"),
            )),
        }
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A point-spread function; FWHM in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Psf {
    /// Gaussian, σ = FWHM / 2.3548, applied as two separable 1-D passes.
    Gaussian { fwhm_px: f32 },
    /// Moffat `(1 + r²/α²)^−β`, α = FWHM / (2 √(2^{1/β} − 1)), applied as a 2-D kernel.
    Moffat { fwhm_px: f32, beta: f32 },
}

/// Sky and shot noise of a preset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Noise {
    /// Surface-brightness limit per band, mag/arcsec²: the 1σ sky fluctuation in a
    /// 1 arcsec² aperture. Per pixel, σ = 10^(−0.4 (μ_lim − zp)) × pixel_scale.
    pub sb_limit: [f32; 3],
    /// Sky surface brightness per band, mag/arcsec². It sets the sky level S per pixel
    /// (subtracted after the noise is drawn) and with σ the gain g = S / σ², so that
    /// Poisson noise of the sky alone has exactly the σ above and sources add their own
    /// shot noise.
    pub sky_sb: [f32; 3],
}

/// A domain's observation parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Preset {
    pub domain: Domain,
    /// Arcseconds per pixel.
    pub pixel_scale_arcsec: f32,
    /// Magnitude of a flux of 1.
    pub zero_point: f32,
    /// PSF per output band.
    pub psf: [Psf; 3],
    /// `observed[b] = Σ_k band_response[b][k] × intrinsic[k]`.
    pub band_response: [[f32; 3]; 3],
    /// `None`: no noise (pristine).
    pub noise: Option<Noise>,
}

impl Preset {
    /// The same preset with the surface-brightness limit of every band set to `mu`
    /// (mag/arcsec²). The sky's surface brightness moves by the same amount, so the sky
    /// counts per pixel (S²/σ²) and hence the shape of the Poisson noise stay as in the
    /// preset. An error for a preset without noise (`pristine`) or a non-finite `mu`.
    pub fn with_sb_limit(mut self, mu: f32) -> crate::Result<Preset> {
        let name = self.domain.name();
        match &mut self.noise {
            None => Err(crate::Error::config(
                "sb_limit",
                format!("the {name} preset has no noise: a surface-brightness limit applies to noisy or sdss"),
            )),
            Some(_) if !(mu.is_finite() && (15.0..=35.0).contains(&mu)) => Err(crate::Error::config(
                "sb_limit",
                format!("{mu}: expected a surface-brightness limit of 15 to 35 mag/arcsec² (the noisy preset: 25)"),
            )),
            Some(n) => {
                for b in 0..3 {
                    n.sky_sb[b] += mu - n.sb_limit[b];
                    n.sb_limit[b] = mu;
                }
                Ok(self)
            }
        }
    }

    /// The 1σ sky noise per pixel in band `b` (0 without noise).
    pub fn sigma_pixel(&self, b: usize) -> f32 {
        match &self.noise {
            None => 0.0,
            Some(n) => {
                10f32.powf(-0.4 * (n.sb_limit[b] - self.zero_point)) * self.pixel_scale_arcsec
            }
        }
    }

    /// The sky level per pixel in band `b`, in flux units (0 without noise).
    pub fn sky_pixel(&self, b: usize) -> f32 {
        match &self.noise {
            None => 0.0,
            Some(n) => {
                10f32.powf(-0.4 * (n.sky_sb[b] - self.zero_point))
                    * self.pixel_scale_arcsec
                    * self.pixel_scale_arcsec
            }
        }
    }

    /// Electrons per flux unit in band `b` (sky level / σ²); infinite without noise.
    pub fn gain(&self, b: usize) -> f32 {
        let s = self.sigma_pixel(b);
        if s == 0.0 {
            f32::INFINITY
        } else {
            self.sky_pixel(b) / (s * s)
        }
    }
}

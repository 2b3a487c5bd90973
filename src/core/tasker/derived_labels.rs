//! How derivation (the MetricsBackend's metrics from events) addresses a family's series. A
//! family derivation registered itself takes any labels; one the app registered ahead (to choose
//! its buckets, say) has declared labels, which derivation fills by name, an absent value as
//! empty (Prometheus' reading of a missing label); values for labels it does not declare are
//! left out, as the app chose. A declared label derivation cannot fill is refused when the plan
//! is built, before anything is updated.

use crate::core::error::{Error, Result};
use crate::core::labels::KeyBuf;
use crate::core::registry::Family;

/// A family's shape, for derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Any labels: each present value with its name.
    Dynamic,
    /// Declared labels: for each, in declared order, the index of its value among the names
    /// derivation fills.
    Fixed(Box<[usize]>),
}

impl Shape {
    /// The shape of `family` when derivation fills `names`.
    ///
    /// # Errors
    /// A declared label that is not one of `names`.
    pub fn of(family: &Family, names: &[&str]) -> Result<Self> {
        let desc = family.desc();
        if desc.dynamic {
            return Ok(Shape::Dynamic);
        }
        let slots = desc
            .labels
            .iter()
            .map(|label| {
                names.iter().position(|n| *n == label).ok_or_else(|| {
                    Error::argument(format!(
                        "metric {:?} is registered with labels [{}], but metrics derived from events carry only [{}]",
                        desc.name,
                        desc.labels.iter().map(|n| format!(":{n}")).collect::<Vec<_>>().join(", "),
                        names.iter().map(|n| format!(":{n}")).collect::<Vec<_>>().join(", ")
                    ))
                })
            })
            .collect::<Result<Box<[usize]>>>()?;
        Ok(Shape::Fixed(slots))
    }

    /// The key of the series for `values` (one per name, `None` when absent).
    ///
    /// # Errors
    /// A value that is not valid UTF-8.
    pub fn key(&self, family: &Family, names: &[&str], values: &[Option<&[u8]>]) -> Result<KeyBuf> {
        let mut key = KeyBuf::new();
        match self {
            Shape::Dynamic => {
                for (name, value) in names.iter().zip(values) {
                    if let Some(v) = value {
                        key.push_name(name);
                        key.push(v);
                    }
                }
                key.checked(&crate::core::labels::LabelNames::default())
                    .map_err(|_| Error::argument("payload label values must be valid UTF-8"))?;
            }
            Shape::Fixed(slots) => {
                for slot in slots.iter() {
                    key.push(values.get(*slot).copied().flatten().unwrap_or_default());
                }
                key.checked(&family.desc().labels)?;
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::metric::MetricKind;
    use crate::core::registry::{FamilyDesc, Registry};

    const NAMES: [&str; 3] = ["handler", "namespace", "status"];

    #[test]
    fn fills_declared_labels_by_name_and_refuses_what_it_cannot_fill() {
        let reg = Registry::default();
        let fixed = reg.register(FamilyDesc::new("x_total", "x", MetricKind::Counter, &["status", "handler"], None).unwrap()).unwrap();
        let shape = Shape::of(&fixed, &NAMES).unwrap();
        assert_eq!(shape, Shape::Fixed(vec![2, 0].into()));
        let key = shape.key(&fixed, &NAMES, &[Some(b"Ship"), None, Some(b"ok")]).unwrap();
        assert_eq!(fixed.label_pairs(&fixed.series(key.as_bytes()).unwrap()), vec![("status", "ok"), ("handler", "Ship")]);
        let absent = shape.key(&fixed, &NAMES, &[None, None, Some(b"ok")]).unwrap();
        assert_eq!(fixed.label_pairs(&fixed.series(absent.as_bytes()).unwrap()), vec![("status", "ok"), ("handler", "")]);
        let other = reg.register(FamilyDesc::new("y_total", "y", MetricKind::Counter, &["region"], None).unwrap()).unwrap();
        assert_eq!(
            Shape::of(&other, &NAMES).unwrap_err().to_string(),
            "metric \"y_total\" is registered with labels [:region], but metrics derived from events carry only [:handler, :namespace, :status]"
        );
        let dynamic = reg.register(FamilyDesc::dynamic("z_total", "z", MetricKind::Counter, None).unwrap()).unwrap();
        assert_eq!(Shape::of(&dynamic, &NAMES).unwrap(), Shape::Dynamic);
    }
}

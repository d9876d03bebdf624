//! One setting, declared once.
//!
//! A [`Setting`] is a row: its name, its help, and the [`Config`] field it
//! fills. Everything else follows from the row: the config file key is the
//! name, the flag is `--` and the name with `-` for `_`, the environment
//! variable is `CHINWAG_` and the name in capitals, and the default that
//! `chinwagd --help` shows is read from [`Config::default()`], so it cannot
//! drift from the real one.
//!
//! How a field's type reads text and TOML, and shows itself, is
//! [`SettingValue`]'s job.

use std::path::PathBuf;
use std::time::Duration;

use super::{Config, Guests, Signup};
use crate::store::Durability;

/// One setting.
pub struct Setting {
    /// The config file key.
    pub name: &'static str,
    /// One line (or a few sentences) for `--help`, without the default.
    pub help: &'static str,
    /// What the help calls the value: ADDR, N, DURATION ...
    pub value_name: &'static str,
    pub shape: Shape,
    /// What having no value means, for a setting that has none by default
    /// ("off", "keep everything"); empty for the others.
    pub unset: &'static str,
    pub(crate) read: fn(&mut Config, Input<'_>) -> Result<(), String>,
    pub(crate) show: fn(&Config) -> Option<String>,
}

/// How a setting is written on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `--name VALUE`.
    Value,
    /// `--name` alone means true; `--name false` is allowed too.
    Switch,
    /// `--name A,B` or `--name A --name B`.
    List,
    /// `--name VALUE`, VALUE one of these.
    Choice(&'static [&'static str]),
}

/// A value as one layer gives it.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// From a flag or an environment variable.
    Text(&'a str),
    /// From the config file.
    Toml(&'a toml::Value),
}

impl Setting {
    /// The command-line flag, without the leading `--`.
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }

    /// The environment variable.
    pub fn env_var(&self) -> String {
        format!("CHINWAG_{}", self.name.to_ascii_uppercase())
    }

    /// The default, as the help shows it: the value in
    /// [`Config::default()`], or what having none means.
    pub fn default_text(&self) -> String {
        (self.show)(&Config::default()).unwrap_or_else(|| self.unset.to_owned())
    }

    /// The value `config` holds, as the help would show it; `None` when it
    /// has none.
    pub fn show(&self, config: &Config) -> Option<String> {
        (self.show)(config)
    }

    /// Sets this setting in `config`; the error says what is wrong with
    /// the value (the caller says where it came from).
    pub fn read(&self, config: &mut Config, input: Input<'_>) -> Result<(), String> {
        (self.read)(config, input)
    }

    /// Whether `text` is a valid value, without keeping it.
    pub fn check(&self, text: &str) -> Result<(), String> {
        self.read(&mut Config::default(), Input::Text(text))
    }

    /// Says what having no value means (see [`Setting::unset`]), for a
    /// setting that has none by default.
    pub const fn when_unset(mut self, meaning: &'static str) -> Setting {
        self.unset = meaning;
        self
    }
}

/// A group of settings under one heading of `chinwagd --help`, declared by
/// the module that uses them.
pub struct Section {
    pub heading: &'static str,
    pub settings: &'static [Setting],
}

/// `setting!("file_key", field.path: Type, "VALUE_NAME", "help")` declares
/// the row of a [`Config`] field; the field path is from `Config` and the
/// type must be the field's (the compiler checks it).
macro_rules! setting {
    ($name:literal, $($field:ident).+ : $ty:ty, $value_name:literal, $help:literal $(,)?) => {
        $crate::config::Setting {
            name: $name,
            help: $help,
            value_name: $value_name,
            shape: <$ty as $crate::config::SettingValue>::SHAPE,
            unset: "",
            read: |config, input| {
                config.$($field).+ = <$ty as $crate::config::SettingValue>::read(input)?;
                Ok(())
            },
            show: |config| $crate::config::SettingValue::show(&config.$($field).+),
        }
    };
}
pub(crate) use setting;

/// A type a setting can have: how to read it from text (flags, the
/// environment) and from TOML, and how to show it in the help.
pub trait SettingValue: Sized {
    const SHAPE: Shape = Shape::Value;

    fn parse(text: &str) -> Result<Self, String>;

    /// The value as text that [`SettingValue::parse`] reads back; `None`
    /// for "no value".
    fn show(&self) -> Option<String>;

    /// From the config file: a string, parsed like the flag's value;
    /// numbers, booleans and lists override this.
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(text) => Self::parse(text),
            other => Err(format!("expected a string, found {}", other.type_str())),
        }
    }

    fn read(input: Input<'_>) -> Result<Self, String> {
        match input {
            Input::Text(text) => Self::parse(text),
            Input::Toml(value) => Self::from_toml(value),
        }
    }
}

impl SettingValue for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }

    fn show(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl SettingValue for PathBuf {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(PathBuf::from(text))
    }

    fn show(&self) -> Option<String> {
        Some(self.display().to_string())
    }
}

/// Whole numbers: a TOML integer in the file.
macro_rules! whole_number {
    ($($ty:ty),+) => {$(
        impl SettingValue for $ty {
            fn parse(text: &str) -> Result<Self, String> {
                text.parse().map_err(|_| {
                    format!("{text:?} is not a whole number from 0 to {}", <$ty>::MAX)
                })
            }

            fn show(&self) -> Option<String> {
                Some(self.to_string())
            }

            fn from_toml(value: &toml::Value) -> Result<Self, String> {
                match value {
                    toml::Value::Integer(n) => <$ty>::try_from(*n).map_err(|_| {
                        format!("{n} is not a whole number from 0 to {}", <$ty>::MAX)
                    }),
                    other => Err(format!("expected a number, found {}", other.type_str())),
                }
            }
        }
    )+};
}
whole_number!(u16, u32, u64, usize);

impl SettingValue for bool {
    const SHAPE: Shape = Shape::Switch;

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("{text:?} is neither true nor false")),
        }
    }

    fn show(&self) -> Option<String> {
        Some(self.to_string())
    }

    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Boolean(b) => Ok(*b),
            other => Err(format!(
                "expected true or false, found {}",
                other.type_str()
            )),
        }
    }
}

/// Durations are written the human way, "30s", "5m", "90d", in the file
/// as everywhere else.
impl SettingValue for Duration {
    fn parse(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration like 30s, 5m or 90d: {e}"))
    }

    fn show(&self) -> Option<String> {
        Some(humantime::format_duration(*self).to_string())
    }
}

/// A list: comma-separated on the command line and in the environment; in
/// the file, that or an array of strings. Empty means no value.
impl SettingValue for Vec<String> {
    const SHAPE: Shape = Shape::List;

    fn parse(text: &str) -> Result<Self, String> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect())
    }

    fn show(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.join(","))
    }

    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(text) => Self::parse(text),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(text) => Ok(text.trim().to_owned()),
                    other => Err(format!("expected strings, found {}", other.type_str())),
                })
                .collect(),
            other => Err(format!(
                "expected a string or an array of strings, found {}",
                other.type_str()
            )),
        }
    }
}

/// A setting that may have no value: giving one sets it.
impl<T: SettingValue> SettingValue for Option<T> {
    const SHAPE: Shape = T::SHAPE;

    fn parse(text: &str) -> Result<Self, String> {
        T::parse(text).map(Some)
    }

    fn show(&self) -> Option<String> {
        self.as_ref().and_then(T::show)
    }

    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        T::from_toml(value).map(Some)
    }
}

/// An enum setting: each variant and its name, once.
macro_rules! choice {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl SettingValue for $ty {
            const SHAPE: Shape = Shape::Choice(&[$($name),+]);

            fn parse(text: &str) -> Result<Self, String> {
                match text {
                    $($name => Ok(<$ty>::$variant),)+
                    _ => Err(format!(
                        "{text:?} is not one of: {}",
                        [$($name),+].join(", ")
                    )),
                }
            }

            fn show(&self) -> Option<String> {
                Some(match self { $(<$ty>::$variant => $name,)+ }.to_owned())
            }
        }
    };
}
choice!(Durability { Full => "full", Normal => "normal" });
choice!(Signup { Open => "open", Closed => "closed" });
choice!(Guests { Allow => "allow", Deny => "deny" });

pub(crate) mod driver;

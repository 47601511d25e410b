//! The PakTech delivery pipeline.

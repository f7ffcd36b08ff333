//! Turning user input into model input: chat prompts (DeepSeek's SFT template) and images
//! (DeepSeek's resize-pad-normalise).

pub mod image;
pub mod prompt;
pub mod resample;

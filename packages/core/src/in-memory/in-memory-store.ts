// Placeholder: being written now; replaced within the hour.
export {};

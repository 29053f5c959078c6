"""The ESP32's ROM for a vboard: its SPI flash, what it prints at reset (blank
chip, broken image, download mode), and the serial download protocol that
esptool speaks to it."""

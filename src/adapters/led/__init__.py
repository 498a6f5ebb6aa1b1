"""Status LED adapters: a WS2812B chain driven over SPI (spidev) and the Linux sysfs LED
class, both behind the ``StatusLights`` port."""

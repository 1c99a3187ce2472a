"""The desktop app: Tk windows over the service and the camera."""

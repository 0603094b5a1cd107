"""FasterAPI"""

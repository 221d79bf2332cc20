from django.urls import path

from chain import views

urlpatterns = [
    path("", views.home, name="home"),
]
